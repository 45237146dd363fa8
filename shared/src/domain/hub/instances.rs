//! Instance types as the SDK reads them: their family, and whether they take an EBS volume.

/// The EBS volume the SDK's Estimator asks for when the document's `TrainingVolumeSize` does not apply.
pub const SDK_DEFAULT_VOLUME_SIZE_GB: u32 = 30;

/// `ml.g5.2xlarge` -> `g5` (the SDK's `^ml[._]([a-z\d]+)\.?\w*$`).
pub fn instance_family(instance_type: &str) -> Option<&str> {
    let rest = instance_type
        .strip_prefix("ml.")
        .or_else(|| instance_type.strip_prefix("ml_"))?;
    let (family, size) = rest.split_once('.').unwrap_or((rest, ""));
    let ok = !family.is_empty()
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(family)
}

/// Whether the instance takes an EBS volume: not on families with local NVMe storage (a `d` in the name: g4dn,
/// p4d, c5d) nor on g5/g6/p5/trn1 (and their `e`/`n` variants). The SDK's `volume_size_supported`; SageMaker also
/// refuses a `VolumeKmsKeyId` on these.
pub fn volume_size_supported(instance_type: &str) -> bool {
    if instance_type.starts_with("local") {
        return false;
    }
    let rest = instance_type.strip_prefix("ml.").unwrap_or(instance_type);
    let family = rest.split('.').next().unwrap_or(rest);
    !family.contains('d')
        && !["g5", "g6", "p5", "trn1"]
            .iter()
            .any(|p| family.starts_with(p))
}

/// `VolumeSizeInGB` as the SDK chooses it.
pub fn sdk_volume_size_gb(instance_type: &str, document_size: Option<u32>) -> u32 {
    match document_size {
        Some(size) if volume_size_supported(instance_type) => size,
        _ => SDK_DEFAULT_VOLUME_SIZE_GB,
    }
}

/// Whether SageMaker refuses a `VolumeKmsKeyId` on this instance type: the types the SDK gives no EBS volume, and
/// those AWS documents as having only local NVMe storage since (trn2, p6).
pub fn has_local_storage(instance_type: &str) -> bool {
    let rest = instance_type.strip_prefix("ml.").unwrap_or(instance_type);
    !volume_size_supported(instance_type) || ["trn2", "p6"].iter().any(|p| rest.starts_with(p))
}
