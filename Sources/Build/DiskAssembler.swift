import Disk
import Foundation
import Recipes
import Support

/// Maps a board's layout onto Disk's partition specs, resolving type aliases with the board
/// file's line numbers so an unknown type is reported where it was written.
public enum DiskPlanner {
    public enum Role: String, Sendable { case vfat, ext4, usr, none }

    public struct Partition: Sendable {
        public let spec: PartitionSpec
        public let role: Role
        public let filesystemLabel: String
        /// The slot of a `usr` partition: USR-A gets the image, USR-B ships empty for updates.
        public let usrSlot: UsrSlot?
    }

    public static func partitionSpecs(for board: Board) throws -> [Partition] {
        var partitions: [Partition] = []
        for entry in board.layout.partitions.sorted(by: { $0.number < $1.number }) {
            guard let typeGUID = PartitionType.resolve(entry.type) else {
                throw ConfigError(location: entry.typeLocation,
                                  message: "unknown partition type '\(entry.type)' (known: \(PartitionType.aliases.joined(separator: ", ")), or a GUID)")
            }
            let attributes = GPTPartitionAttributes(priority: UInt8(entry.priority), tries: UInt8(entry.tries),
                                                    successful: entry.successful)
            let spec = PartitionSpec(number: entry.number, label: entry.label, typeGUID: typeGUID,
                                     uniqueGUID: entry.uuid, sizeBytes: entry.size, attributes: attributes)
            let role = Role(rawValue: entry.filesystem.rawValue) ?? .none
            partitions.append(Partition(spec: spec, role: role, filesystemLabel: entry.label,
                                        usrSlot: role == .usr ? try usrSlot(of: entry) : nil))
        }
        _ = try layout(for: partitions, board: board)
        for slot in UsrSlot.allCases where !partitions.contains(where: { $0.usrSlot == slot }) {
            throw ConfigError(location: board.layout.location,
                              message: "the layout has no partition \(slot.label) with 'filesystem: usr'; "
                                + "coreos-boot and the updater boot the two slots USR-A and USR-B")
        }
        return partitions
    }

    /// coreos-boot and the updater find the slots by name and type, so a `usr` partition must be one of them.
    private static func usrSlot(of entry: Board.Partition) throws -> UsrSlot {
        guard let slot = UsrSlot(label: entry.label) else {
            throw ConfigError(location: entry.location(ofKey: "label") ?? entry.location,
                              message: "a partition with 'filesystem: usr' is a /usr slot and must be labelled "
                                + "USR-A or USR-B, not '\(entry.label)'")
        }
        guard PartitionType.resolve(entry.type) == PartitionType.coreOSUsr else {
            throw ConfigError(location: entry.typeLocation,
                              message: "\(slot.label) must have type coreos-usr (\(PartitionType.coreOSUsr)), "
                                + "the type coreos-boot looks for, not '\(entry.type)'")
        }
        return slot
    }

    public static func layout(for partitions: [Partition], board: Board) throws -> DiskLayout {
        try DiskLayout.plan(partitions: partitions.map(\.spec),
                            alignmentSectors: board.layout.alignment / 512,
                            diskAlignmentSectors: UInt64(board.layout.diskAlignmentSectors),
                            diskIdentity: board.name)
    }
}

/// Facts about a disk cache entry.
public struct DiskManifest: Codable, Sendable {
    public static let fileName = "disk.json"
    public var rawBytes: UInt64
    public var rawSHA256: String
    public var rawSHA512: String
    public var qcow2Bytes: UInt64
    public var qcow2SHA256: String

    public static func load(from entry: URL) throws -> DiskManifest {
        try JSONDecoder().decode(DiskManifest.self, from: Data(contentsOf: entry.appendingPathComponent(fileName)))
    }
}

/// Writes the GPT, copies each filesystem image into its partition, converts to qcow2 (when the
/// board's outputs have it) and
/// records digests (once, here, so a warm build need not read gigabytes again).
struct DiskAssembler {
    static let rawName = "disk.bin", qcow2Name = "disk.qcow2"
    let partitions: [DiskPlanner.Partition]
    let board: Board

    func assemble(filesystems: URL, manifest: FilesystemManifest, into entry: URL,
                  progress: ProgressReporter) throws {
        let layout = try DiskPlanner.layout(for: partitions, board: board)
        let raw = entry.appendingPathComponent(Self.rawName)
        try progress.detail("GPT and partition contents") {
            try GPTWriter.write(layout, to: raw)
            for placed in layout.partitions {
                guard let imageName = manifest.partitionImages[String(placed.spec.number)] else { continue }
                try PartitionWriter.copy(filesystemImage: filesystems.appendingPathComponent(imageName),
                                         into: raw, partition: placed)
            }
        }
        // SHA-512 has no CPU instructions here and dominates; each digest gets its own core.
        let digests = try progress.detail("sha256 and sha512 of the raw disk") {
            try inParallel({ try Digests.sha256(file: raw) }, { try Digests.sha512(file: raw) })
        }
        var qcow2Bytes: UInt64 = 0, qcow2Digest = ""
        if board.outputs.contains(.qcow2) {
            let qcow2 = entry.appendingPathComponent(Self.qcow2Name)
            qcow2Digest = try progress.detail("qcow2 conversion") {
                try QCOW2.convert(raw: raw, to: qcow2)
                return try Digests.sha256(file: qcow2)
            }
            qcow2Bytes = try fileSize(qcow2)
        }
        let manifest = DiskManifest(rawBytes: layout.totalBytes, rawSHA256: digests.0, rawSHA512: digests.1,
                                    qcow2Bytes: qcow2Bytes, qcow2SHA256: qcow2Digest)
        try JSONEncoder().encode(manifest).write(to: entry.appendingPathComponent(DiskManifest.fileName))
    }
}
