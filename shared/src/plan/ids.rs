//! Stable identifiers: campaign ids for offline planning and task ids.
//!
//! Ids are name-based UUIDs (version 5), so planning the same campaign twice gives the same ids: a
//! coordinator that re-plans after a restart recognises its own tasks, and results can be joined with
//! plans made offline. The namespaces are constants of this crate and must never change.

use std::fmt::Write as _;

use uuid::Uuid;

/// Namespace of campaign ids derived from a campaign name ([`campaign_id_for`]).
pub const CAMPAIGN_NAMESPACE: Uuid = Uuid::from_u128(0x5c1b_9a0e_4f6d_4b8e_9d3a_7e21_c0f4_a001);

/// Namespace of task ids ([`task_id`]).
pub const TASK_NAMESPACE: Uuid = Uuid::from_u128(0x5c1b_9a0e_4f6d_4b8e_9d3a_7e21_c0f4_a002);

/// The campaign id used when a campaign is planned without a coordinator (`wattsweep plan`): UUID v5
/// of the campaign name in [`CAMPAIGN_NAMESPACE`].
pub fn campaign_id_for(name: &str) -> Uuid {
    Uuid::new_v5(&CAMPAIGN_NAMESPACE, name.as_bytes())
}

/// The id of one task: UUID v5 in [`TASK_NAMESPACE`] of
/// `{campaign_id}/{configuration name}/{target}/{repetition}`, the campaign id hyphenated in lower
/// case and the target as [`crate::model::Target`] displays it (`node-1/gpu3`, `node-1/gpu0,1`,
/// `any/h100-80gb`).
pub fn task_id(campaign_id: Uuid, configuration: &str, target: &str, repetition: u32) -> Uuid {
    let mut ids = TaskIds::new(campaign_id);
    ids.id(configuration, target, repetition)
}

/// Computes task ids for one campaign, reusing one buffer (the planner makes millions of them).
pub(crate) struct TaskIds {
    prefix_len: usize,
    buf: String,
}

impl TaskIds {
    /// Ids of the tasks of `campaign_id`.
    pub(crate) fn new(campaign_id: Uuid) -> Self {
        let mut buf = String::with_capacity(160);
        // Writing into a String cannot fail.
        let _ = write!(buf, "{}/", campaign_id.hyphenated());
        Self {
            prefix_len: buf.len(),
            buf,
        }
    }

    /// The id of `configuration` on `target` (displayed), repetition `repetition`.
    pub(crate) fn id(&mut self, configuration: &str, target: &str, repetition: u32) -> Uuid {
        self.buf.truncate(self.prefix_len);
        self.buf.push_str(configuration);
        self.buf.push('/');
        self.buf.push_str(target);
        self.buf.push('/');
        let _ = write!(self.buf, "{repetition}");
        Uuid::new_v5(&TASK_NAMESPACE, self.buf.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_ids_are_v5_of_the_name() {
        let id = campaign_id_for("h100-sharing-envelope");
        assert_eq!(id.get_version_num(), 5);
        assert_eq!(
            id,
            Uuid::new_v5(&CAMPAIGN_NAMESPACE, b"h100-sharing-envelope")
        );
        assert_ne!(id, campaign_id_for("h100-sharing-envelope-2"));
    }

    #[test]
    fn task_id_hashes_the_documented_string() {
        let campaign = campaign_id_for("c");
        let text = format!("{campaign}/time-slicing/burn/c4/node-1/gpu3/2");
        assert_eq!(
            task_id(campaign, "time-slicing/burn/c4", "node-1/gpu3", 2),
            Uuid::new_v5(&TASK_NAMESPACE, text.as_bytes())
        );
    }

    #[test]
    fn reused_buffer_gives_the_same_ids() {
        let campaign = campaign_id_for("c");
        let mut ids = TaskIds::new(campaign);
        let a = ids.id("a-long-configuration-name/x/y", "node-1/gpu0,1,2,3", 10);
        let b = ids.id("b", "n/gpu0", 0);
        assert_eq!(
            a,
            task_id(
                campaign,
                "a-long-configuration-name/x/y",
                "node-1/gpu0,1,2,3",
                10
            )
        );
        assert_eq!(b, task_id(campaign, "b", "n/gpu0", 0));
    }

    /// The namespaces and the id recipe are a contract: these values must never change.
    #[test]
    fn pinned_ids() {
        assert_eq!(
            campaign_id_for("h100-sharing-envelope").to_string(),
            "80212a49-3439-515e-955f-9f606175c17a"
        );
        assert_eq!(
            task_id(
                campaign_id_for("h100-sharing-envelope"),
                "time-slicing/burn/c4",
                "node-1/gpu3",
                0
            )
            .to_string(),
            "702b0920-6f8b-54af-9a50-e9976ff7da7b"
        );
    }
}
