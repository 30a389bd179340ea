import Boot
import Disk
import Foundation
import Payload
import Support

/// The A/B pieces of a coresdk image: its two USR slots and the ESP that holds their boot files.
struct SlotLayout {
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

extension SlotBootFiles.File {
    /// The payload's install procedure that carries this file.
    var procedure: InstallProcedure.Kind {
        switch self {
        case .kernel: .kernel
        case .initramfs: .initrd
        case .commandLine: .commandLine
        }
    }
}

/// What `coresdk payload generate` takes from a built image: the USR-A partition, its boot files and
/// its os-release.
public enum UpdateSource {
    public static func extract(from image: URL, into scratch: URL) throws -> (partition: URL, bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])]) {
        let disk = try DiskImage(image)
        let slots = try SlotLayout(try disk.readGPT(), image: image)
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

/// Installs a verified payload into the image's inactive USR slot as CoreOS's update_engine and
/// postinstall did: the partition, then that slot's boot files on the ESP and its gptprio bits
/// (successful 0, tries 1, highest priority) in one journaled step. The active slot is not touched;
/// until that last step the image boots as before.
public struct PayloadInstaller {
    public let image: URL

    public init(image: URL) { self.image = image }

    public func install(payload url: URL, publicKeys: [PayloadPublicKey]) throws -> InstallResult {
        guard !publicKeys.isEmpty else { throw SupportError("a payload is applied only after its signature is verified: pass --public-key") }
        // The partition's own hash is checked below while it is rebuilt, before anything is written.
        let verifier = try PayloadVerifier(url)
        try verifier.verify(publicKeys: publicKeys, rebuildingPartition: false)
        let manifest = verifier.payload.manifest

        let disk = try DiskImage(image)
        let journal = WriteJournal(image: disk)
        try journal.rollBackInterruptedWrite()
        let slots = try SlotLayout(try disk.readGPT(), image: image)
        guard let active = slots.usr.next else { throw SupportError(file: image.path, "no USR slot is bootable") }
        let targetSlot = active.other
        let target = slots.usr[targetSlot]
        guard let partitionInfo = manifest.newPartitionInfo, partitionInfo.size <= target.byteCount else {
            throw SupportError(file: url.path, "the new /usr (\(manifest.newPartitionInfo?.size ?? 0) bytes) does not fit \(target.name) (\(target.byteCount) bytes)")
        }

        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-apply-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }

        // 1. The inactive slot's partition (nothing boots from it yet).
        let partition = scratch.appendingPathComponent("usr.img")
        _ = FileManager.default.createFile(atPath: partition.path, contents: nil)
        let writer = try FileHandle(forWritingTo: partition)
        try writer.truncate(atOffset: partitionInfo.size)
        try verifier.rebuild(manifest.partitionOperations, expected: partitionInfo, what: "the partition") { piece in
            guard piece.bytes.contains(where: { $0 != 0 }) else { return }
            let length = Int(min(UInt64(piece.bytes.count), partitionInfo.size - piece.offset))
            try writer.seek(toOffset: piece.offset)
            try writer.write(contentsOf: Data(piece.bytes.prefix(length)))
        }
        try writer.close()
        try disk.write(contentsOf: partition, at: target.byteOffset)
        try disk.synchronize()

        // 2. Boot files and gptprio bits, together.
        var bootFiles: [(file: SlotBootFiles.File, bytes: [UInt8])] = []
        for procedure in manifest.procedures {
            guard let file = SlotBootFiles.File.allCases.first(where: { $0.procedure == procedure.type }),
                  let info = procedure.newInfo else { continue }
            var bytes: [UInt8] = []
            try verifier.rebuild(procedure.operations, expected: info, what: file.rawValue) { bytes += $0.bytes }
            bootFiles.append((file, Array(bytes.prefix(Int(info.size)))))
        }
        guard bootFiles.contains(where: { $0.file == .kernel }) else { throw SupportError(file: url.path, "no KERNEL procedure") }
        let targetFiles = SlotBootFiles(targetSlot)
        let edit = RangeEdit(disk: disk, scratch: scratch)
        let espChanges = try edit.edit(offset: slots.esp.byteOffset, size: slots.esp.byteCount, name: "esp") { esp in
            for (file, bytes) in bootFiles {
                let local = scratch.appendingPathComponent(file.rawValue)
                try Data(bytes).write(to: local)
                try Command.run(["mcopy", "-o", "-i", esp.path, local.path, "::" + targetFiles.path(file)],
                                environment: ["MTOOLS_SKIP_CHECK": "1"])
            }
        }
        let priority = UInt8(min(15, Int(max(slots.usr.a.attributes.priority, slots.usr.b.attributes.priority)) + 1))
        var attributes = target.attributes
        let gptChanges = try edit.editGPT { standIn in
            attributes = try FdiskContext.updateAttributes(in: standIn, partition: target.number) {
                $0.priority = priority
                $0.tries = 1
                $0.successful = false
            }
        }
        try journal.apply(espChanges + gptChanges)
        return InstallResult(image: disk.url.path, slot: target.name, partition: target.number,
                             version: OmahaOffer.version(in: verifier.payload), priority: Int(attributes.priority),
                             tries: Int(attributes.tries), successful: attributes.successful)
    }
}
