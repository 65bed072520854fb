//! `type: task` (spec §6): commands run to completion, on one node or several.

use super::error::{FieldPath, RuleViolation};
use super::literal::literal;
use super::names::check_group_names;
use super::profile::config_struct;
use super::run::{check_commands, with_base_run_fields};
use crate::ports::PortMapping;
use crate::resources::ResourcesSpec;

literal!(
    /// `type: task`.
    TaskTag = "task"
);

fn default_nodes() -> u32 {
    1
}

config_struct! {
    /// One group of a heterogeneous multi-node task.
    pub struct NodeGroup {
        /// The group name; its position (`"0"`, `"1"`, ...) when unset.
        #[serde(default)]
        pub name: Option<String>,
        /// How many nodes the group has.
        #[serde(default = "default_nodes")]
        pub nodes: u32,
        /// The resources of each node; not inherited from the task.
        #[serde(default)]
        pub resources: ResourcesSpec,
        /// The group's commands.
        #[serde(default)]
        pub commands: Vec<String>,
        /// Ports forwarded from the group's nodes.
        #[serde(default)]
        pub ports: Vec<PortMapping>,
    }
}

with_base_run_fields! {
    /// A task: `commands` run to completion.
    pub struct TaskConfiguration (TaskTag) {
        /// How many identical nodes run the task; the server stores 1 when unset.
        #[serde(default)]
        pub nodes: Option<u32>,
        /// Heterogeneous node groups, instead of `nodes`.
        #[serde(default)]
        pub groups: Option<Vec<NodeGroup>>,
        /// Ports forwarded to the user's machine.
        #[serde(default)]
        pub ports: Vec<PortMapping>,
        /// The commands to run.
        #[serde(default)]
        pub commands: Vec<String>,
    }
}

fn violation(key: &str, message: impl Into<String>) -> RuleViolation {
    RuleViolation::new(FieldPath::keys(&[key]), message)
}

impl TaskConfiguration {
    /// Checks the rules across fields.
    pub fn check(&self) -> Result<(), RuleViolation> {
        self.check_common_fields()?;
        check_commands(&self.commands, &FieldPath::keys(&["commands"]))?;
        if self.nodes == Some(0) {
            return Err(violation("nodes", "must be at least 1"));
        }
        match &self.groups {
            Some(groups) => self.check_groups(groups),
            None if self.commands.is_empty() && self.image.is_none() => Err(violation(
                "commands",
                "either `commands` or `image` must be set",
            )),
            None => Ok(()),
        }
    }

    fn check_groups(&self, groups: &[NodeGroup]) -> Result<(), RuleViolation> {
        if self.nodes.is_some() {
            return Err(violation(
                "groups",
                "`nodes` and `groups` are mutually exclusive fields",
            ));
        }
        if groups.is_empty() {
            return Err(violation("groups", "`groups` cannot be an empty list"));
        }
        for (key, set) in [
            ("commands", !self.commands.is_empty()),
            ("ports", !self.ports.is_empty()),
            ("entrypoint", self.entrypoint.is_some()),
        ] {
            if set {
                return Err(violation(
                    key,
                    format!(
                        "top-level `{key}` is not allowed when `groups` is set, specify `{key}` in each node group instead"
                    ),
                ));
            }
        }
        check_group_names(groups.iter().map(|g| g.name.as_deref()), "groups")?;
        for (index, group) in groups.iter().enumerate() {
            let path = FieldPath::keys(&["groups"]).index(index);
            check_commands(&group.commands, &path.clone().key("commands"))?;
            if group.nodes == 0 {
                return Err(RuleViolation::new(path.key("nodes"), "must be at least 1"));
            }
            if group.commands.is_empty() && self.image.is_none() {
                return Err(RuleViolation::new(
                    path.key("commands"),
                    "each node group needs `commands` unless the task sets `image`",
                ));
            }
        }
        Ok(())
    }
}
