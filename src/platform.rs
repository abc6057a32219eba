//! How each spot platform tells spot nodes from on-demand ones.
//!
//! Karpenter and EKS managed node groups label both kinds of node, so either
//! pick is a plain `nodeSelector`. GKE and AKS label only spot nodes (and
//! taint them), so an on-demand pick is a required node-affinity expression
//! that the label is absent or not `spot`, and a spot pick needs the
//! toleration for the taint.

use serde_json::{Value, json};

/// One of the presets a user names in the `platform` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Karpenter, also EKS Auto Mode: `karpenter.sh/capacity-type`.
    Karpenter,
    /// EKS managed node groups: `eks.amazonaws.com/capacityType`.
    EksManagedNodeGroups,
    /// GKE Spot VMs: `cloud.google.com/gke-spot`.
    Gke,
    /// AKS spot node pools: `kubernetes.azure.com/scalesetpriority`.
    Aks,
    /// A label, values and tolerations given in settings.
    Custom,
}

impl Preset {
    /// Every preset with the name the `platform` setting uses for it.
    pub const ALL: [(&'static str, Preset); 5] = [
        ("karpenter", Preset::Karpenter),
        ("eks-managed-node-groups", Preset::EksManagedNodeGroups),
        ("gke", Preset::Gke),
        ("aks", Preset::Aks),
        ("custom", Preset::Custom),
    ];

    /// The preset called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, preset)| *preset)
    }

    /// The platform this preset stands for; `None` for [`Preset::Custom`],
    /// whose platform comes from settings.
    pub fn platform(self) -> Option<Platform> {
        let platform = match self {
            Preset::Karpenter => Platform::karpenter(),
            Preset::EksManagedNodeGroups => Platform {
                label: "eks.amazonaws.com/capacityType".to_string(),
                spot: NodeRequirement::Equals("SPOT".to_string()),
                on_demand: NodeRequirement::Equals("ON_DEMAND".to_string()),
                spot_tolerations: Vec::new(),
            },
            // GKE labels spot nodes only; node auto-provisioning taints the
            // spot nodes it creates with the same key.
            Preset::Gke => Platform {
                label: "cloud.google.com/gke-spot".to_string(),
                spot: NodeRequirement::Equals("true".to_string()),
                on_demand: NodeRequirement::Absent,
                spot_tolerations: vec![toleration("cloud.google.com/gke-spot", "true")],
            },
            // AKS labels and taints spot pools; regular pools carry no label.
            Preset::Aks => Platform {
                label: "kubernetes.azure.com/scalesetpriority".to_string(),
                spot: NodeRequirement::Equals("spot".to_string()),
                on_demand: NodeRequirement::NotIn(vec!["spot".to_string()]),
                spot_tolerations: vec![toleration("kubernetes.azure.com/scalesetpriority", "spot")],
            },
            Preset::Custom => return None,
        };
        Some(platform)
    }
}

/// A `NoSchedule` toleration for the taint `key=value`.
fn toleration(key: &str, value: &str) -> Value {
    json!({"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"})
}

/// What a pod must require of a node's capacity label to land on one kind of
/// capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRequirement {
    /// The label has this value: a `nodeSelector` entry.
    Equals(String),
    /// The label is not there: a required `DoesNotExist` affinity expression.
    Absent,
    /// The label is missing or has none of these values: a required `NotIn`
    /// affinity expression.
    NotIn(Vec<String>),
}

/// The resolved placement vocabulary of one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// The node label that tells spot from on-demand capacity.
    pub label: String,
    /// How a pod asks for spot capacity.
    pub spot: NodeRequirement,
    /// How a pod asks for on-demand capacity.
    pub on_demand: NodeRequirement,
    /// Tolerations a pod needs to run on spot nodes, as Kubernetes
    /// `Toleration` objects.
    pub spot_tolerations: Vec<Value>,
}

impl Platform {
    /// Karpenter's vocabulary, which EKS Auto Mode shares: both kinds of node
    /// carry `karpenter.sh/capacity-type`.
    pub fn karpenter() -> Platform {
        Platform {
            label: "karpenter.sh/capacity-type".to_string(),
            spot: NodeRequirement::Equals("spot".to_string()),
            on_demand: NodeRequirement::Equals("on-demand".to_string()),
            spot_tolerations: Vec::new(),
        }
    }
}

impl Default for Platform {
    /// Karpenter, the default preset.
    fn default() -> Self {
        Platform::karpenter()
    }
}
