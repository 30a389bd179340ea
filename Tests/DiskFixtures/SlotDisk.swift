import Boot
import Disk
import Foundation
import Support

/// A small A/B disk: an ESP with slot A's boot files, USR-A holding a version, USR-B an old
/// leftover, ROOT with data; the installer's tests make payloads from one and apply them to another.
public struct SlotDisk {
    public let directory: URL
    public let layout: DiskLayout

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        layout = try DiskLayout.plan(partitions: [
            PartitionSpec(number: 1, label: "EFI-SYSTEM", typeGUID: "efi", sizeBytes: 16 << 20),
            PartitionSpec(number: 3, label: "USR-A", typeGUID: "coreos-usr", sizeBytes: 8 << 20,
                          attributes: GPTPartitionAttributes(priority: 1, tries: 0, successful: true)),
            PartitionSpec(number: 4, label: "USR-B", typeGUID: "coreos-usr", sizeBytes: 8 << 20),
            PartitionSpec(number: 9, label: "ROOT", typeGUID: "coreos-resize", sizeBytes: 4 << 20),
        ], alignmentSectors: 2048, diskAlignmentSectors: 2048, diskIdentity: "apply-test")
    }

    /// A disk whose USR-A and slot-A boot files say `version`.
    public func makeDisk(_ name: String, version: String) throws -> URL {
        let disk = directory.appendingPathComponent(name)
        try GPTWriter.write(layout, to: disk)
        let esp = directory.appendingPathComponent("esp-\(name)")
        try Command.run(["truncate", "-s", "16M", esp.path])
        try Command.run(["mkfs.vfat", "-n", "EFI-SYSTEM", esp.path])
        try Command.run(["mmd", "-i", esp.path, "::coreos"])
        for file in SlotBootFiles.File.allCases {
            let local = directory.appendingPathComponent(file.rawValue)
            try Data("\(file.rawValue) of \(version)\n".utf8 + Data(repeating: 7, count: 5000)).write(to: local)
            try Command.run(["mcopy", "-o", "-i", esp.path, local.path, "::" + SlotBootFiles(.a).path(file)])
        }
        try PartitionWriter.copy(filesystemImage: esp, into: disk, partition: layout.partition(number: 1)!)
        try fill(disk, partition: 3, with: Data("usr of \(version)".utf8), size: 6 << 20)
        try fill(disk, partition: 4, with: Data("stale leftover".utf8), size: 8 << 20)
        try fill(disk, partition: 9, with: Data("root data".utf8), size: 4 << 20)
        return disk
    }

    private func fill(_ disk: URL, partition number: Int, with pattern: Data, size: Int) throws {
        var data = Data()
        while data.count < size { data += pattern }
        let file = directory.appendingPathComponent("fill")
        try data.prefix(size).write(to: file)
        try PartitionWriter.copy(filesystemImage: file, into: disk, partition: layout.partition(number: number)!)
    }

    public func bytes(of disk: URL, partition number: Int) throws -> Data {
        let flat = directory.appendingPathComponent("read-\(UUID().uuidString)")
        let entry = layout.partition(number: number)!
        try DiskImage(disk).copy(count: entry.byteCount, at: entry.byteOffset, to: flat)
        return try Data(contentsOf: flat)
    }

    public func espFile(_ disk: URL, _ file: SlotBootFiles.File, of slot: UsrSlot) throws -> String? {
        let esp = directory.appendingPathComponent("esp-read-\(UUID().uuidString)")
        try Data(try bytes(of: disk, partition: 1)).write(to: esp)
        guard let run = try? Command.run(["mtype", "-i", esp.path, "::" + SlotBootFiles(slot).path(file)]) else { return nil }
        return run.text.components(separatedBy: "\n").first
    }

    public func attributes(_ disk: URL, _ number: Int) throws -> GPTPartitionAttributes {
        try DiskImage(disk).readGPT().partition(number: number)!.attributes
    }

    public func remove() { try? FileManager.default.removeItem(at: directory) }
}
