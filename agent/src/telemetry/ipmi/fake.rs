//! An in-memory BMC for tests: sensors and values set by the test, a switch to make it stop answering,
//! counters of what the sampler asked. Clones share one BMC, so a test keeps a handle while the sampler
//! owns another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::model::{
    DcmiPower, Entity, Sensor, SensorKey, SensorKind, SensorOwner, SensorValue, Unit,
};
use super::{BmcClient, BmcError};

#[derive(Debug, Default)]
struct State {
    sensors: Vec<Sensor>,
    values: HashMap<SensorKey, Option<f64>>,
    dcmi: Option<DcmiPower>,
    down: bool,
    discovered: Vec<Sensor>,
    list_calls: u64,
    read_calls: u64,
}

/// In-memory [`BmcClient`].
#[derive(Debug, Clone, Default)]
pub struct FakeBmc {
    state: Arc<Mutex<State>>,
}

impl FakeBmc {
    /// A BMC with no sensors, no DCMI, answering.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a sensor owned by the BMC (0x20) and returns its key.
    pub fn add_sensor(
        &self,
        name: &str,
        kind: SensorKind,
        unit: Unit,
        entity: Entity,
        number: u8,
        value: Option<f64>,
    ) -> SensorKey {
        let owner = SensorOwner::from_sdr(0x20, 0);
        let key = SensorKey::new(name, entity, owner, number, 1);
        let mut st = self.state();
        st.sensors.push(Sensor {
            key: key.clone(),
            name: name.to_string(),
            kind,
            unit,
            entity,
            owner,
            number,
            sensor_type: 0,
            compact: false,
        });
        st.values.insert(key.clone(), value);
        key
    }

    /// Sets a sensor's current value.
    pub fn set_value(&self, key: &SensorKey, value: Option<f64>) {
        self.state().values.insert(key.clone(), value);
    }

    /// Sets the DCMI power reading; `None`: the BMC has no DCMI.
    pub fn set_dcmi(&self, power: Option<DcmiPower>) {
        self.state().dcmi = power;
    }

    /// Makes the BMC stop answering (`true`) or answer again (`false`).
    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    /// How many times sensors were listed.
    pub fn list_calls(&self) -> u64 {
        self.state().list_calls
    }

    /// How many times sensors were read.
    pub fn read_calls(&self) -> u64 {
        self.state().read_calls
    }

    fn check_up(st: &State) -> Result<(), BmcError> {
        if st.down {
            Err(BmcError::Unavailable {
                target: "in-memory BMC".into(),
                reason: "set down by the test".into(),
            })
        } else {
            Ok(())
        }
    }
}

impl BmcClient for FakeBmc {
    fn describe(&self) -> String {
        "in-memory BMC".into()
    }

    async fn list_sensors(&mut self) -> Result<Vec<Sensor>, BmcError> {
        let mut st = self.state();
        st.list_calls += 1;
        Self::check_up(&st)?;
        st.discovered = st.sensors.clone();
        Ok(st.discovered.clone())
    }

    async fn read_sensors(&mut self) -> Result<Vec<SensorValue>, BmcError> {
        let mut st = self.state();
        st.read_calls += 1;
        Self::check_up(&st)?;
        Ok(st
            .discovered
            .iter()
            .map(|s| SensorValue {
                key: s.key.clone(),
                value: st.values.get(&s.key).copied().flatten(),
            })
            .collect())
    }

    async fn read_dcmi_power(&mut self) -> Result<Option<DcmiPower>, BmcError> {
        let st = self.state();
        Self::check_up(&st)?;
        Ok(st.dcmi.clone())
    }
}
