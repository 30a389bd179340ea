import Disk
import Foundation
import Payload
import Support

/// The A/B pieces of a coresdk image: its two USR slots, which one boots, and the per-slot boot files
/// on the ESP (`/coreos/vmlinuz-a`, `initrd-a`, `cmdline-a`).
struct SlotLayout {
    let usr: [GPTEntry]
    let esp: GPTEntry

    init(_ gpt: GPTDisk, image: URL) throws {
        usr = gpt.partitions.filter { $0.typeGUID.uppercased() == PartitionType.coreOSUsr }.sorted { $0.number < $1.number }
        guard usr.count == 2 else {
            throw SupportError("\(image.path): expected two USR partitions (USR-A, USR-B), found \(usr.count)")
        }
        guard let esp = gpt.partitions.first(where: { $0.typeGUID.uppercased() == PartitionType.resolve("efi")?.uppercased() }) else {
            throw SupportError("\(image.path): no EFI system partition")
        }
        self.esp = esp
    }

    /// The slot the bootloader picks (gptprio.next): highest priority with tries left or marked
    /// successful; ties go to the lower partition number.
    var active: GPTEntry? {
        usr.filter { $0.attributes.tries > 0 || $0.attributes.successful }
            .max { ($0.attributes.priority, -$0.number) < ($1.attributes.priority, -$1.number) }
    }

    /// `a` for USR-A (partition 3), `b` for USR-B: the suffix of the slot's boot files.
    static func letter(of slot: GPTEntry) -> String { slot.name.hasSuffix("B") ? "b" : "a" }
}

/// What `coresdk payload generate` takes from a built image: the USR-A partition, its boot files and
/// its os-release.
public enum UpdateSource {
    public static func extract(from image: URL, into scratch: URL) throws -> (partition: URL, bootFiles: [(kind: InstallProcedure.Kind, contents: [UInt8])]) {
        let disk = try DiskImage(image)
        let slots = try SlotLayout(try disk.readGPT(), image: image)
        let slot = slots.usr[0]
        let partition = scratch.appendingPathComponent("usr.img")
        try disk.copy(count: slot.byteCount, at: slot.byteOffset, to: partition)
        let esp = scratch.appendingPathComponent("esp.img")
        try disk.copy(count: slots.esp.byteCount, at: slots.esp.byteOffset, to: esp)
        var files: [(kind: InstallProcedure.Kind, contents: [UInt8])] = []
        for (kind, name) in [(InstallProcedure.Kind.kernel, "vmlinuz"), (.initrd, "initrd"), (.commandLine, "cmdline")] {
            let copy = scratch.appendingPathComponent(name)
            do {
                try Command.run(["mcopy", "-n", "-i", esp.path, "::coreos/\(name)-\(SlotLayout.letter(of: slot))", copy.path],
                                environment: ["MTOOLS_SKIP_CHECK": "1"])
            } catch {
                throw SupportError("\(image.path): the ESP has no /coreos/\(name)-a; is this a coresdk image?")
            }
            files.append((kind, [UInt8](try Data(contentsOf: copy))))
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
        guard let active = slots.active else { throw SupportError("\(image.path): no USR slot is bootable") }
        let target = slots.usr.first { $0.number != active.number }!
        guard let partitionInfo = manifest.newPartitionInfo, partitionInfo.size <= target.byteCount else {
            throw SupportError("\(url.path): the new /usr (\(manifest.newPartitionInfo?.size ?? 0) bytes) does not fit \(target.name) (\(target.byteCount) bytes)")
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
        let letter = SlotLayout.letter(of: target)
        var bootFiles: [(name: String, bytes: [UInt8])] = []
        for procedure in manifest.procedures {
            let name: String
            switch procedure.type {
            case .kernel?: name = "vmlinuz"
            case .initrd?: name = "initrd"
            case .commandLine?: name = "cmdline"
            default: continue
            }
            guard let info = procedure.newInfo else { continue }
            var bytes: [UInt8] = []
            try verifier.rebuild(procedure.operations, expected: info, what: name) { bytes += $0.bytes }
            bootFiles.append((name, Array(bytes.prefix(Int(info.size)))))
        }
        guard bootFiles.contains(where: { $0.name == "vmlinuz" }) else { throw SupportError("\(url.path): no KERNEL procedure") }
        let edit = RangeEdit(disk: disk, scratch: scratch)
        let espChanges = try edit.edit(offset: slots.esp.byteOffset, size: slots.esp.byteCount, name: "esp") { esp in
            for file in bootFiles {
                let local = scratch.appendingPathComponent(file.name)
                try Data(file.bytes).write(to: local)
                try Command.run(["mcopy", "-o", "-i", esp.path, local.path, "::coreos/\(file.name)-\(letter)"],
                                environment: ["MTOOLS_SKIP_CHECK": "1"])
            }
        }
        let priority = UInt8(min(15, Int(slots.usr.map(\.attributes.priority).max() ?? 0) + 1))
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
