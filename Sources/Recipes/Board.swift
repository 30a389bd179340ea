import Foundation

/// A target: which recipes and overlays make its image, how it boots and how its disk is laid
/// out, from `boards/<name>.yaml`.
public struct Board: Sendable, ConfigModel {
    public enum Architecture: String, Sendable, CaseIterable {
        case amd64, arm64

        /// Why no image can be built for it yet; nil when one can. The board is refused at `arch`.
        var unsupportedReason: String? {
            switch self {
            case .amd64: nil
            case .arm64: "arm64 is not supported yet: the bootloader (BOOTX64.EFI, built by the coreos-boot recipe), "
                + "the firmware (OVMF) and the QEMU binary (qemu-system-x86_64) are amd64-only today; use 'arch: amd64'"
            }
        }
    }
    public enum OutputFormat: String, Sendable, CaseIterable { case raw, qcow2 }
    public enum UsrFilesystem: String, Sendable, CaseIterable { case erofs, squashfs }
    public enum PartitionFilesystem: String, Sendable, CaseIterable { case vfat, ext4, usr, none }

    public internal(set) var name = ""
    /// The Debian architecture (`arch.rawValue` is what apt and mmdebstrap take).
    public internal(set) var arch = Architecture.amd64
    /// Names output files (`coreos_production_image.bin`) and release keys (`COREOS_RELEASE_VERSION`).
    public internal(set) var imagePrefix = ""
    public internal(set) var os: OS
    public internal(set) var recipeEntries: [Located<String>] = []
    public var recipes: [String] { recipeEntries.map(\.value) }
    /// Folder names under `overlays/`, each checked to be a directory there.
    public internal(set) var overlayEntries: [Located<String>] = []
    public var overlays: [String] { overlayEntries.map(\.value) }
    public internal(set) var kernel: Kernel
    public internal(set) var usr: Usr
    public internal(set) var outputs: [OutputFormat] = []
    /// apt source lines replacing the host's, e.g. a snapshot mirror that keeps a lock's versions.
    public internal(set) var aptSources: [String] = []
    public internal(set) var layout: Layout

    /// `boards/<name>.yaml`.
    public let fileURL: URL
    /// The file as written, for cache keys.
    public let text: String
    public let location: SourceLocation
    public internal(set) var keyLocations: [String: SourceLocation] = [:]

    init(at mapping: YAMLValue) {
        fileURL = mapping.file.url
        text = mapping.file.text
        location = mapping.location
        os = OS(at: mapping)
        kernel = Kernel(at: mapping)
        usr = Usr(at: mapping)
        layout = Layout(at: mapping)
    }

    static var keys: KeyTable<Board> {
        KeyTable(context: "board", keys: [
            ConfigKey("name", .fileName, .required, "The board's name, the same as its file name (`boards/<name>.yaml`).", \.name),
            ConfigKey("arch", architecture, .required,
                      "The Debian architecture of the image; only `amd64` can be built today.", \.arch),
            ConfigKey("image-prefix", .imagePrefix, .defaulted("coreos"),
                      "Prefix of output file names and of the `<PREFIX>_RELEASE_*` keys.", \.imagePrefix),
            ConfigKey("os", .mapping(OS.self, doc: "mapping (see *`os`*)"), .defaulted("{}"),
                      "What `/usr/lib/os-release` calls the system.", \.os),
            ConfigKey("recipes", ValueType.list(of: .name, nonEmpty: true).unique(), .required,
                      "The recipes to install; their `depends` are added.", \.recipeEntries),
            ConfigKey("overlays", ValueType.list(of: .relativePath(in: "overlays/")).unique(), .defaulted("[]"),
                      "Folders under `overlays/` laid over the root filesystem, in this order.", \.overlayEntries),
            ConfigKey("kernel", .mapping(Kernel.self, doc: "mapping (see *`kernel`*)"), .required,
                      "Which recipe provides the kernel, and its command line.", \.kernel),
            ConfigKey("usr", .mapping(Usr.self, doc: "mapping (see *`usr`*)"), .defaulted("{}"),
                      "The read-only `/usr` filesystem image.", \.usr),
            ConfigKey("outputs", ValueType.list(of: .choice(OutputFormat.self), nonEmpty: true).unique().withoutLocations(),
                      .defaulted("[raw, qcow2]"), "Disk image formats to write.", \.outputs),
            ConfigKey("layout", .mapping(Layout.self, doc: "mapping (see *`layout`*)"), .required,
                      "The GPT disk layout.", \.layout),
            ConfigKey("apt-sources", ValueType.list(of: .line).withoutLocations(), .defaulted("[]"),
                      "apt source lines (`deb [check-valid-until=no] URL bookworm main`) used instead of the host's, "
                      + "e.g. a snapshot mirror where the lock's versions stay available; `--apt-source` overrides them.",
                      \.aptSources),
        ])
    }

    /// An architecture the build can make images for; the others are known, so that they get a reason.
    private static var architecture: ValueType<Architecture> {
        ValueType.choice(Architecture.self).checked { arch, _ in
            if let why = arch.unsupportedReason { throw InvalidValue(why) }
        }
    }

    public struct OS: Sendable, ConfigModel {
        /// os-release `ID`.
        public internal(set) var id = ""
        /// os-release `NAME`.
        public internal(set) var name = ""
        public let location: SourceLocation
        public internal(set) var keyLocations: [String: SourceLocation] = [:]

        init(at mapping: YAMLValue) { location = mapping.location }

        static var keys: KeyTable<OS> {
            KeyTable(context: "'os'", keys: [
                ConfigKey("id", .osID, .defaulted("coreos"), "os-release `ID`.", \.id),
                ConfigKey("name", .displayName, .defaulted("CoreOS"), "os-release `NAME`.", \.name),
                ConfigKey(forbidden: "version-id", because: "the version comes from the build (--version), not the board",
                          "os-release `VERSION_ID` is set from the build's version."),
            ])
        }
    }

    public struct Kernel: Sendable, ConfigModel {
        /// A recipe of the plan that installs `/boot/vmlinuz-*`.
        public internal(set) var recipe = ""
        public internal(set) var cmdline = ""
        /// Modules the initramfs loads, in order, to reach the disks, dm-verity and /usr's filesystem.
        public internal(set) var initramfsModules: [String] = []
        public let location: SourceLocation
        public internal(set) var keyLocations: [String: SourceLocation] = [:]

        init(at mapping: YAMLValue) { location = mapping.location }

        static var keys: KeyTable<Kernel> {
            KeyTable(context: "'kernel'", keys: [
                ConfigKey("recipe", .name, .required,
                          "The recipe that installs `/boot/vmlinuz-*`; it must be in `recipes` or their dependencies.", \.recipe),
                ConfigKey("cmdline", .line, .defaulted("\"\""),
                          "Kernel command line; the build appends what /usr verity needs.", \.cmdline),
                ConfigKey("initramfs-modules", ValueType.list(of: .kernelModule).unique().withoutLocations(),
                          .defaulted("[]"),
                          "Kernel modules the initramfs loads, in order (their dependencies are added).",
                          \.initramfsModules),
            ])
        }
    }

    public struct Usr: Sendable, ConfigModel {
        public internal(set) var filesystem = UsrFilesystem.squashfs
        /// The compressor for mkfs, optionally with a level (`zstd:9`), as written; it was checked
        /// to be one that `filesystem` takes (`UsrFilesystem.compressors`). nil lets the builder choose.
        public internal(set) var compression: String?
        /// What mkfs is given: `compression`, or the filesystem's default.
        public var chosenCompression: String { compression ?? filesystem.defaultCompression }
        public let location: SourceLocation
        public internal(set) var keyLocations: [String: SourceLocation] = [:]

        init(at mapping: YAMLValue) { location = mapping.location }

        static var keys: KeyTable<Usr> {
            KeyTable(context: "'usr'", keys: [
                ConfigKey("filesystem", .choice(UsrFilesystem.self), .defaulted("squashfs"), "The read-only filesystem of `/usr`.",
                          \.filesystem),
                ConfigKey("compression", .word, .optional, compressionHelp, \.compression) { compression, usr in
                    try usr.filesystem.check(compression: compression)
                },
            ])
        }

        private static var compressionHelp: String {
            "Compressor passed to mkfs, with a level after a colon where it takes one; "
                + UsrFilesystem.allCases.map { "\($0.rawValue) takes \($0.compressorChoices)" }.joined(separator: "; ")
                + ". Left out, the builder chooses."
        }
    }

    public struct Layout: Sendable, ConfigModel {
        /// Partition start alignment in bytes (a multiple of 512).
        public internal(set) var alignment: UInt64 = 0
        /// The disk's size is rounded up to a multiple of this many sectors.
        public internal(set) var diskAlignmentSectors = 0
        public internal(set) var partitions: [Partition] = []
        public let location: SourceLocation
        public internal(set) var keyLocations: [String: SourceLocation] = [:]

        init(at mapping: YAMLValue) { location = mapping.location }

        static var keys: KeyTable<Layout> {
            KeyTable(context: "'layout'", keys: [
                ConfigKey("alignment", .size, .defaulted("2MiB"), "Where partitions may start.", \.alignment),
                ConfigKey("disk-alignment-sectors", .integer(1...Int.max), .defaulted("258048"),
                          "The disk size is a multiple of this many 512-byte sectors.", \.diskAlignmentSectors),
                ConfigKey("partitions", partitionList, .required, "The GPT entries; see *`layout.partitions` entries*.", \.partitions),
            ])
        }

        /// Entries, each number and each label used once (GPT tools find partitions by either).
        private static var partitionList: ValueType<[Partition]> {
            ValueType.list(of: .mapping(Partition.self, doc: "mapping"), nonEmpty: true)
                .withoutLocations()
                .checked { partitions, _ in
                    try rejectDuplicates(partitions, by: \.number, at: { $0.location(ofKey: "number") ?? $0.location }) {
                        "partition number \($0) is used twice"
                    }
                    try rejectDuplicates(partitions, by: \.label, at: { $0.location(ofKey: "label") ?? $0.location }) {
                        "partition label '\($0)' is used twice"
                    }
                }
        }
    }

    public struct Partition: Sendable, ConfigModel {
        /// GPT entry number, 1–128.
        public internal(set) var number = 0
        /// PARTLABEL, at most 36 UTF-16 units.
        public internal(set) var label = ""
        /// A type alias or GUID as written; resolved (and reported at `typeLocation`) by the disk code.
        public internal(set) var type = ""
        public internal(set) var size: UInt64 = 0
        /// The partition's unique GUID; nil lets the disk code derive a stable one.
        public internal(set) var uuid: String?
        public internal(set) var filesystem = PartitionFilesystem.none
        /// gptprio attribute bits (CoreOS): 0–15 each.
        public internal(set) var priority = 0
        public internal(set) var tries = 0
        public internal(set) var successful = false
        public let location: SourceLocation
        public internal(set) var keyLocations: [String: SourceLocation] = [:]

        /// Where `type` was written, for "unknown partition type" errors.
        public var typeLocation: SourceLocation { location(ofKey: "type") ?? location }

        init(at mapping: YAMLValue) { location = mapping.location }

        static var keys: KeyTable<Partition> {
            KeyTable(context: "partition", keys: [
                ConfigKey("number", .integer(1...128), .required, "GPT entry number.", \.number),
                ConfigKey("label", .gptLabel, .required, "GPT partition name (PARTLABEL).", \.label),
                ConfigKey("type", .word, .required, "A partition type alias (e.g. `efi`, `coreos-usr`) or a type GUID.", \.type),
                ConfigKey("size", .size, .required, "Partition size.", \.size),
                ConfigKey("uuid", .guid, .optional, "The partition's unique GUID; left out, a stable one is derived.", \.uuid),
                ConfigKey("filesystem", .choice(PartitionFilesystem.self), .defaulted("none"),
                          "What the build puts in it: `usr` marks the two /usr slots, labelled USR-A (it takes the /usr image) and USR-B (empty, for updates).",
                          \.filesystem),
                ConfigKey("priority", .integer(0...15), .defaulted("0"), "gptprio priority (0: not bootable).", \.priority),
                ConfigKey("tries", .integer(0...15), .defaulted("0"), "gptprio boot tries left.", \.tries),
                ConfigKey("successful", .bool, .defaulted("false"), "gptprio: booted successfully.", \.successful),
            ])
        }
    }
}
