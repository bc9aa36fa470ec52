//! The ipmitool client against a real BMC simulator (ipmi_sim): discovery of names, units, entities and
//! distinct keys; values equal to what the emulator holds; RMCP+ and IPMI 1.5; both password sources.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipmi.rs"]
mod ipmi_sim;

use ipmi_sim::SimBmc;
use wattsweep_agent::telemetry::ipmi::{
    BmcClient, BmcError, IpmitoolClient, LanProtocol, Password, Secret, SensorKind, Unit,
};

/// (name, kind, unit, key, value) of every sensor `tests/fixtures/ipmi/bmc.emu` defines, in SDR order;
/// values are the emulator's raw bytes times the records' factors.
fn expected() -> Vec<(&'static str, SensorKind, Unit, &'static str, Option<f64>)> {
    use SensorKind::*;
    vec![
        (
            "Inlet Temp",
            Temperature,
            Unit::Celsius,
            "inlet_temp@55.1#20:0:0:10",
            Some(23.0),
        ),
        (
            "GPU Temp",
            Temperature,
            Unit::Celsius,
            "gpu_temp@11.1#20:0:0:20",
            Some(61.0),
        ),
        (
            "GPU Temp",
            Temperature,
            Unit::Celsius,
            "gpu_temp@11.2#20:0:0:21",
            Some(67.0),
        ),
        (
            "Exhaust Temp",
            Temperature,
            Unit::Celsius,
            "exhaust_temp@7.2#20:0:0:30",
            Some(41.0),
        ),
        (
            "PSU1 Input",
            Power,
            Unit::Watts,
            "psu1_input@10.1#20:0:0:40",
            Some(1850.0),
        ),
        ("12V", Voltage, Unit::Volts, "12v@7.1#20:0:0:50", Some(12.0)),
        (
            "PSU1 Current",
            Current,
            Unit::Amps,
            "psu1_current@10.1#20:0:0:51",
            Some(7.5),
        ),
        ("FAN1", Fan, Unit::Rpm, "fan1@29.1#20:0:0:60", Some(8500.0)),
        // A compact record: no conversion factors, ipmitool prints no value.
        (
            "DIMM Temp",
            Temperature,
            Unit::Celsius,
            "dimm_temp@32.1#20:0:0:70",
            None,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_every_sensor_with_names_units_and_distinct_keys() {
    let sim = SimBmc::start();
    let mut client = IpmitoolClient::new(sim.lanplus_config()).unwrap();
    let sensors = client.list_sensors().await.unwrap();

    let got: Vec<(String, SensorKind, Unit, String)> = sensors
        .iter()
        .map(|s| (s.name.clone(), s.kind, s.unit, s.key.to_string()))
        .collect();
    let want: Vec<(String, SensorKind, Unit, String)> = expected()
        .into_iter()
        .map(|(n, k, u, key, _)| (n.to_string(), k, u, key.to_string()))
        .collect();
    assert_eq!(got, want, "ipmi_sim log:\n{}", sim.log_tail());

    // The two "GPU Temp" sensors are two sensors: different keys, numbers and entity instances.
    let gpus: Vec<_> = sensors.iter().filter(|s| s.name == "GPU Temp").collect();
    assert_eq!(gpus.len(), 2);
    assert_ne!(gpus[0].key, gpus[1].key);
    assert_eq!((gpus[0].number, gpus[1].number), (0x20, 0x21));
    assert_eq!((gpus[0].entity.instance, gpus[1].entity.instance), (1, 2));
    assert_eq!(gpus[0].entity.name(), Some("add-in card"));
    // The discrete "PSU1 Status" sensor is not sampled.
    assert!(sensors.iter().all(|s| s.name != "PSU1 Status"));

    // ipmi_sim has no DCMI: the client says so instead of failing.
    assert!(!client.has_dcmi());
    assert_eq!(client.read_dcmi_power().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_read_match_what_the_emulator_holds_and_follow_changes() {
    let mut sim = SimBmc::start();
    let mut client = IpmitoolClient::new(sim.lanplus_config()).unwrap();
    let sensors = client.list_sensors().await.unwrap();
    let values = client.read_sensors().await.unwrap();

    let keys: Vec<_> = values.iter().map(|v| v.key.clone()).collect();
    assert_eq!(
        keys,
        sensors.iter().map(|s| s.key.clone()).collect::<Vec<_>>()
    );
    let got: Vec<Option<f64>> = values.iter().map(|v| v.value).collect();
    let want: Vec<Option<f64>> = expected().into_iter().map(|e| e.4).collect();
    assert_eq!(got, want);

    // Change both GPU temperatures and the PSU input through ipmi_sim's console.
    sim.set_raw(0x20, 70);
    sim.set_raw(0x21, 80);
    sim.set_raw(0x40, 200);
    // The console is asynchronous to the LAN side: poll until the emulator applied the change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let values = loop {
        let values = client.read_sensors().await.unwrap();
        if values[4].value == Some(2000.0) || std::time::Instant::now() > deadline {
            break values;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(values[1].value, Some(70.0), "first GPU Temp");
    assert_eq!(values[2].value, Some(80.0), "second GPU Temp");
    assert_eq!(values[4].value, Some(2000.0), "PSU1 Input");
    assert_eq!(values[0].value, Some(23.0), "Inlet Temp unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipmi_1_5_lan_and_an_environment_password_work_too() {
    let sim = SimBmc::start();

    let mut lan = IpmitoolClient::new(sim.lan15_config()).unwrap();
    assert_eq!(lan.list_sensors().await.unwrap().len(), 9);
    assert_eq!(lan.read_sensors().await.unwrap()[4].value, Some(1850.0));

    let env_cfg = sim.config(
        LanProtocol::Lanplus {
            cipher_suite: Some(3),
        },
        Password::Env(Secret::new(ipmi_sim::PASSWORD)),
    );
    let mut env = IpmitoolClient::new(env_cfg).unwrap();
    assert_eq!(env.list_sensors().await.unwrap().len(), 9);
    assert_eq!(env.read_sensors().await.unwrap()[0].value, Some(23.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_a_failure_naming_the_command_without_the_password() {
    let sim = SimBmc::start();
    let wrong = "not-the-password";
    let cfg = sim.config(
        LanProtocol::Lanplus {
            cipher_suite: Some(3),
        },
        Password::Env(Secret::new(wrong)),
    );
    let mut client = IpmitoolClient::new(cfg).unwrap();
    let err = client.list_sensors().await.unwrap_err();
    assert!(matches!(err, BmcError::Failed { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("sdr dump"), "{message}");
    assert!(message.contains(&format!("-p {}", sim.port())), "{message}");
    assert!(!message.contains(wrong), "{message}");
}
