/// Partition type aliases as CoreOS cgpt spells them in `disk_layout.json`, so a layout can say
/// `coreos-usr` instead of a GUID (spec §1.2: the `supported_types` table of
/// coreos/seismograph:src/cgpt/cgpt_common.c).
public enum PartitionType {
    /// Alias → type GUID, in the order cgpt lists them. Flatcar's cgpt adds `flatcar-*` names for the
    /// very same GUIDs (spec §1.3), so Flatcar layouts resolve too.
    static let table: [(alias: String, guid: String)] = [
        ("efi", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        ("bios", "21686148-6449-6E6F-744E-656564454649"),
        ("coreos-usr", coreOSUsr),
        ("coreos-rootfs", coreOSUsr),
        ("coreos-resize", "3884DD41-8582-4404-B9A8-E9B84F2DF50E"),
        ("coreos-reserved", "C95DC21A-DF0E-4340-8D7B-26CBFA9A03E0"),
        ("coreos-root-raid", "BE9067B9-EA49-4F15-B4F6-F36F8C9E1818"),
        ("flatcar-usr", coreOSUsr),
        ("flatcar-rootfs", coreOSUsr),
        ("flatcar-resize", "3884DD41-8582-4404-B9A8-E9B84F2DF50E"),
        ("flatcar-reserved", "C95DC21A-DF0E-4340-8D7B-26CBFA9A03E0"),
        ("flatcar-root-raid", "BE9067B9-EA49-4F15-B4F6-F36F8C9E1818"),
        ("data", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"),
        ("linux-data", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"),
    ]

    /// The USR slots' type: GRUB's gptprio only considers entries of this type (spec §2.1).
    public static let coreOSUsr = "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6"

    public static var aliases: [String] { table.map(\.alias) }

    /// The uppercase type GUID for an alias (case-insensitive) or a literal GUID; nil for anything else.
    public static func resolve(_ aliasOrGUID: String) -> String? {
        let key = aliasOrGUID.lowercased()
        if let entry = table.first(where: { $0.alias == key }) { return entry.guid }
        return GUID.normalized(aliasOrGUID)
    }
}
