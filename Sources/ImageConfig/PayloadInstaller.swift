import Boot
import Disk
import Foundation
import Payload
import Posix
import PayloadGeneration
import Support

/// The A/B pieces of a coresdk image: its two USR slots and the ESP that holds their boot files.
struct ImageSlots {
    let usr: UsrSlots
    let esp: GPTEntry

    init(_ gpt: GPTDisk, image: URL) throws {
        usr = try UsrSlots(gpt, image: image)
        guard let esp = gpt.partitions.first(where: { $0.typeGUID.uppercased() == PartitionType.resolve("efi")?.uppercased() }) else {
            throw SupportError(file: image.path, "no EFI system partition")
        }
        self.esp = esp
    }
}

/// What `coresdk payload generate` takes from a built image: the USR-A partition, its boot files and
/// its os-release.
public enum UpdateSource {
    public static func extract(from image: URL, into scratch: URL) throws -> (partition: URL, bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])]) {
        let disk = try DiskImage(image)
        let slots = try ImageSlots(try disk.readGPT(), image: image)
        let slot = slots.usr.a
        let partition = scratch.appendingPathComponent("usr.img")
        try disk.copy(count: slot.byteCount, at: slot.byteOffset, to: partition)
        let esp = scratch.appendingPathComponent("esp.img")
        try disk.copy(count: slots.esp.byteCount, at: slots.esp.byteOffset, to: esp)
        var files: [(kind: InstallProcedure.Kind, contents: [UInt8])] = []
        let slotFiles = SlotBootFiles(.a)
        for file in SlotBootFiles.File.allCases {
            let copy = scratch.appendingPathComponent(file.rawValue)
            do {
                try Command.run(["mcopy", "-n", "-i", esp.path, "::" + slotFiles.path(file), copy.path],
                                environment: ["MTOOLS_SKIP_CHECK": "1"])
            } catch {
                throw SupportError(file: image.path, "the ESP has no /\(slotFiles.path(file)); is this a coresdk image?")
            }
            files.append((file.procedure, [UInt8](try Data(contentsOf: copy))))
        }
        // The squashfs at the start of the partition holds /usr; unsquashfs reads it without mounting.
        if let release = try? Command.run(["unsquashfs", "-cat", partition.path, "lib/os-release"]).standardOutput, !release.isEmpty {
            files.append((.osRelease, [UInt8](release)))
        }
        return (partition, files)
    }
}

/// What `coresdk payload apply` did.
public struct InstallResult: Sendable, Codable {
    public var image: String
    public var slot: String
    public var partition: Int
    public var version: String?
    public var priority: Int
    public var tries: Int
    public var successful: Bool
}

/// Installs a payload into an image file's inactive USR slot with the installer the update engine
/// uses on a live disk. The partition is assembled in a scratch file and copied into the image; the
/// slot's boot files (mcopy into a copy of the ESP) and its gptprio bits (libfdisk on a stand-in
/// GPT) then go in as one journaled write, so an interrupted apply is rolled back by the next one.
public struct ImageInstallTarget: InstallTarget {
    public let disk: DiskImage
    private let slots: ImageSlots
    private let scratch: URL
    private let partition: URL
    private let partitionFile: SystemFile

    /// Installs `payload` into `image`.
    public static func apply(payload url: URL, to image: URL, publicKeys: [PayloadPublicKey]) throws -> InstallResult {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let target = try ImageInstallTarget(image: image, scratch: scratch)
        let installed = try PayloadInstaller(payload: try PayloadFile(url), publicKeys: publicKeys).install(into: target)
        let entry = target.slots.usr[installed.slot]
        return InstallResult(image: target.disk.url.path, slot: entry.name, partition: entry.number, version: installed.version,
                             priority: Int(installed.attributes.priority), tries: Int(installed.attributes.tries),
                             successful: installed.attributes.successful)
    }

    init(image: URL, scratch: URL) throws {
        disk = try DiskImage(image)
        try WriteJournal(image: disk).rollBackInterruptedWrite()
        slots = try ImageSlots(try disk.readGPT(), image: image)
        self.scratch = scratch
        partition = scratch.appendingPathComponent("usr.img")
        partitionFile = try SystemFile(partition.path, .create(mode: 0o600))
    }

    public func inactiveSlot() throws -> (slot: UsrSlot, capacity: UInt64, attributes: [UsrSlot: GPTPartitionAttributes]) {
        guard let active = slots.usr.next else { throw SupportError(file: disk.url.path, "no USR slot is bootable") }
        return (active.other, slots.usr[active.other].byteCount, [.a: slots.usr.a.attributes, .b: slots.usr.b.attributes])
    }

    public func writeUsr(_ bytes: [UInt8], at offset: UInt64) throws {
        if bytes.contains(where: { $0 != 0 }) {
            try partitionFile.write(bytes, at: offset)
        } else if try partitionFile.size < offset + UInt64(bytes.count) {
            // Zeros need no write: growing the sparse scratch file covers them.
            try partitionFile.truncate(to: offset + UInt64(bytes.count))
        }
    }

    public func finishUsr() throws {
        try disk.write(contentsOf: partition, at: try slotEntry().byteOffset)
        try disk.synchronize()
    }

    public func activate(_ slot: UsrSlot, bootFiles: [(file: SlotBootFiles.File, bytes: [UInt8])],
                         attributes: GPTPartitionAttributes) throws {
        let targetFiles = SlotBootFiles(slot)
        let edit = RangeEdit(disk: disk, scratch: scratch)
        let espChanges = try edit.edit(offset: slots.esp.byteOffset, size: slots.esp.byteCount, name: "esp") { esp in
            for (file, bytes) in bootFiles {
                let local = scratch.appendingPathComponent(file.rawValue)
                try Data(bytes).write(to: local)
                try Command.run(["mcopy", "-o", "-i", esp.path, local.path, "::" + targetFiles.path(file)],
                                environment: ["MTOOLS_SKIP_CHECK": "1"])
            }
        }
        let number = slots.usr[slot].number
        let gptChanges = try edit.editGPT { standIn in
            _ = try FdiskContext.updateAttributes(in: standIn, partition: number) { $0 = attributes }
        }
        try WriteJournal(image: disk).apply(espChanges + gptChanges)
    }

    private func slotEntry() throws -> GPTEntry {
        let (slot, _, _) = try inactiveSlot()
        return slots.usr[slot]
    }
}
