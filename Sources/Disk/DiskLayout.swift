import Support

/// One partition as a layout asks for it, before placement.
public struct PartitionSpec: Sendable, Equatable {
    /// GPT entry number, 1...128.
    public var number: Int
    /// The GPT name (PARTLABEL), at most 36 UTF-16 units.
    public var label: String
    /// A type GUID or one of `PartitionType.aliases`.
    public var typeGUID: String
    /// nil → a GUID derived from the disk identity and the label, so rebuilds are byte-identical
    /// (CoreOS would take a random uuid4 here, spec §1.1).
    public var uniqueGUID: String?
    /// A multiple of 512; blank partitions (size 0 in disk_layout.json) are left out, not passed.
    public var sizeBytes: UInt64
    public var attributes: GPTPartitionAttributes

    public init(number: Int, label: String, typeGUID: String, uniqueGUID: String? = nil,
                sizeBytes: UInt64, attributes: GPTPartitionAttributes = GPTPartitionAttributes()) {
        self.number = number
        self.label = label
        self.typeGUID = typeGUID
        self.uniqueGUID = uniqueGUID
        self.sizeBytes = sizeBytes
        self.attributes = attributes
    }
}

/// A partition with its place on the disk and its identifiers resolved.
public struct PlacedPartition: Sendable, Equatable {
    /// As given to `DiskLayout.plan`.
    public let spec: PartitionSpec
    /// `spec.typeGUID` with an alias resolved, uppercase.
    public let typeGUID: String
    /// `spec.uniqueGUID`, or the derived one, uppercase.
    public let uniqueGUID: String
    public let firstLBA: UInt64
    public let sectorCount: UInt64

    public var number: Int { spec.number }
    public var label: String { spec.label }
    public var lastLBA: UInt64 { firstLBA + sectorCount - 1 }
    public var byteOffset: UInt64 { firstLBA * DiskLayout.sectorSize }
    public var byteCount: UInt64 { sectorCount * DiskLayout.sectorSize }
    /// "partition 3 (USR-A)", the way every message names a partition.
    public var name: String { describe(number, label) }
}

/// The whole disk: where each partition goes and how big the image is. A pure value, so a
/// `--dry-run` can print it and tests can check it without touching a disk.
public struct DiskLayout: Sendable, Equatable {
    public static let sectorSize: UInt64 = 512
    /// Protective MBR + GPT header + 32 sectors of entries (128 × 128 bytes), at each end (spec §1.1).
    public static let gptReservedSectors: UInt64 = 34
    public static let maximumPartitionNumber = 128
    public static let maximumLabelUTF16Units = 36

    public let partitions: [PlacedPartition]
    public let totalSectors: UInt64
    public var totalBytes: UInt64 { totalSectors * Self.sectorSize }

    public func partition(number: Int) -> PlacedPartition? { partitions.first { $0.number == number } }
    public func partition(labeled label: String) -> PlacedPartition? { partitions.first { $0.label == label } }

    /// CoreOS `disk_util`'s placement (spec §1.1): from sector 34, each partition in numeric order
    /// starts at the next multiple of `alignmentSectors`; the disk ends 34 sectors after the last
    /// partition, rounded up to `diskAlignmentSectors` (LCM of 4096 and 16×63, so VHD CHS fits).
    /// `diskIdentity` (e.g. the board name) seeds the GUIDs of partitions that do not set one.
    public static func plan(partitions specs: [PartitionSpec],
                            alignmentSectors: UInt64 = 4096,
                            diskAlignmentSectors: UInt64 = 258_048,
                            diskIdentity: String) throws -> DiskLayout {
        guard alignmentSectors > 0, diskAlignmentSectors > 0 else {
            throw SupportError("partition alignment (\(alignmentSectors)) and disk alignment "
                + "(\(diskAlignmentSectors)) must be at least one sector")
        }
        try rejectDuplicates(specs)
        var cursor = gptReservedSectors
        var placed: [PlacedPartition] = []
        for spec in specs.sorted(by: { $0.number < $1.number }) {
            let resolved = try resolve(spec, diskIdentity: diskIdentity)
            let first = roundUp(cursor, to: alignmentSectors)
            let count = spec.sizeBytes / sectorSize
            placed.append(PlacedPartition(spec: spec, typeGUID: resolved.type, uniqueGUID: resolved.unique,
                                          firstLBA: first, sectorCount: count))
            cursor = first + count
        }
        try rejectDuplicateUniqueGUIDs(placed)
        return DiskLayout(partitions: placed,
                          totalSectors: roundUp(cursor + gptReservedSectors, to: diskAlignmentSectors))
    }

    private static func resolve(_ spec: PartitionSpec, diskIdentity: String) throws
        -> (type: String, unique: String) {
        let name = describe(spec.number, spec.label)
        guard (1...maximumPartitionNumber).contains(spec.number) else {
            throw SupportError(partition: name, "the number must be within 1...\(maximumPartitionNumber), "
                + "the entries a GPT holds")
        }
        guard !spec.label.isEmpty else { throw SupportError(partition: name, "the label is empty") }
        guard spec.label.utf16.count <= maximumLabelUTF16Units else {
            throw SupportError(partition: name, "the label is \(spec.label.utf16.count) UTF-16 units long; "
                + "a GPT name holds at most \(maximumLabelUTF16Units)")
        }
        guard spec.sizeBytes > 0 else {
            throw SupportError(partition: name, "the size is 0; leave blank partitions out of the layout "
                + "(CoreOS does not write them to the GPT)")
        }
        guard spec.sizeBytes % sectorSize == 0 else {
            throw SupportError(partition: name, "the size \(spec.sizeBytes) bytes is not a multiple of "
                + "\(sectorSize)-byte sectors; use \(roundUp(spec.sizeBytes, to: sectorSize)) bytes")
        }
        guard let type = PartitionType.resolve(spec.typeGUID) else {
            throw SupportError(partition: name, "unknown type '\(spec.typeGUID)' (known: "
                + "\(PartitionType.aliases.joined(separator: ", ")), or a GUID)")
        }
        guard let given = spec.uniqueGUID else {
            return (type, stableUUID("\(diskIdentity)/\(spec.label)").uppercased())
        }
        guard let unique = GUID.normalized(given) else {
            throw SupportError(partition: name, "the unique GUID '\(given)' is not of the form "
                + "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX (hex digits)")
        }
        return (type, unique)
    }

    private static func rejectDuplicates(_ specs: [PartitionSpec]) throws {
        for (index, spec) in specs.enumerated() {
            for other in specs[..<index] {
                if other.number == spec.number {
                    throw SupportError("partition number \(spec.number) is used twice: by '\(other.label)' "
                        + "and by '\(spec.label)'")
                }
                if other.label == spec.label {
                    throw SupportError("partition label '\(spec.label)' is used twice: by partition "
                        + "\(other.number) and by partition \(spec.number)")
                }
            }
        }
    }

    private static func rejectDuplicateUniqueGUIDs(_ placed: [PlacedPartition]) throws {
        for (index, partition) in placed.enumerated() {
            if let other = placed[..<index].first(where: { $0.uniqueGUID == partition.uniqueGUID }) {
                throw SupportError("unique GUID \(partition.uniqueGUID) is used twice: by \(other.name) "
                    + "and by \(partition.name)")
            }
        }
    }

    private static func roundUp(_ value: UInt64, to multiple: UInt64) -> UInt64 {
        (value + multiple - 1) / multiple * multiple
    }
}

/// "partition 3 (USR-A)".
func describe(_ number: Int, _ label: String) -> String { "partition \(number) (\(label))" }
