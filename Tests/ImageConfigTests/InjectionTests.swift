import CloudConfig
import Disk
import Filesystems
import Foundation
@testable import ImageConfig
import Support
import Testing

/// A small CoreOS-style disk: EFI-SYSTEM and ROOT full of random bytes (so any stray write shows),
/// and an ext4 OEM partition labelled OEM.
struct TestDisk {
    let directory: URL
    let raw: URL
    let layout: DiskLayout

    init(rootBytes: UInt64 = 8 << 20, oemLabel: String = "OEM", oemIsExt4: Bool = true) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("inject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        raw = directory.appendingPathComponent("disk.bin")
        layout = try DiskLayout.plan(partitions: [
            PartitionSpec(number: 1, label: "EFI-SYSTEM", typeGUID: "efi", sizeBytes: 2 << 20),
            PartitionSpec(number: 6, label: oemLabel, typeGUID: "data", sizeBytes: 8 << 20),
            PartitionSpec(number: 9, label: "ROOT", typeGUID: "coreos-resize", sizeBytes: rootBytes),
        ], alignmentSectors: 2048, diskAlignmentSectors: 2048, diskIdentity: "inject-test")
        try GPTWriter.write(layout, to: raw)
        for number in [1, 9] { try fillRandom(number, bytes: 2 << 20) }
        let oem = directory.appendingPathComponent("oem.img")
        if oemIsExt4 {
            try Ext4Builder(label: "OEM", uuid: stableUUID("oem"), hashSeed: stableUUID("seed"), clock: BuildClock(epoch: 1_700_000_000))
                .build(image: oem, sizeBytes: 8 << 20, populateFrom: nil)
        } else {
            try randomBytes(1 << 20).write(to: oem)
        }
        try PartitionWriter.copy(filesystemImage: oem, into: raw, partition: layout.partition(number: 6)!)
    }

    private func fillRandom(_ number: Int, bytes: Int) throws {
        let file = directory.appendingPathComponent("random.img")
        try randomBytes(bytes).write(to: file)
        try PartitionWriter.copy(filesystemImage: file, into: raw, partition: layout.partition(number: number)!)
    }

    private func randomBytes(_ count: Int) throws -> Data {
        let source = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? source.close() }
        return try source.read(upToCount: count) ?? Data()
    }

    func qcow2() throws -> URL {
        let url = directory.appendingPathComponent("disk.qcow2")
        try QCOW2.convert(raw: raw, to: url)
        return url
    }

    /// A raw copy of any image, for comparing bytes.
    func rawBytes(of image: URL) throws -> URL {
        guard image.pathExtension == "qcow2" else { return image }
        let url = directory.appendingPathComponent("flat-\(UUID().uuidString).bin")
        try Command.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.path, url.path])
        return url
    }

    /// SHA-256 of every byte outside the OEM partition, and of the OEM partition itself.
    func digests(of image: URL) throws -> (outside: String, oem: String) {
        let flat = try FileHandle(forReadingFrom: try rawBytes(of: image))
        defer { try? flat.close() }
        let oem = layout.partition(number: 6)!
        let before = try flat.read(upToCount: Int(oem.byteOffset)) ?? Data()
        let inside = try flat.read(upToCount: Int(oem.byteCount)) ?? Data()
        let after = try flat.readToEnd() ?? Data()
        return (Digests.sha256(before + after), Digests.sha256(inside))
    }

    func injectedConfig(in image: URL) throws -> String? {
        let oem = directory.appendingPathComponent("oem-read-\(UUID().uuidString).img")
        try DiskImage(image).copy(count: layout.partition(number: 6)!.byteCount, at: layout.partition(number: 6)!.byteOffset, to: oem)
        try Ext4Editor(image: oem).check()
        return try Ext4Editor(image: oem).readFile("/cloud-config.yml").map { String(decoding: $0, as: UTF8.self) }
    }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite(.serialized) struct InjectionTests {
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK65C+3QBixJtICDg9fEgrGyZzZiQTfdHQTD9MkPm/fi user@laptop"

    func inject(_ image: URL, _ config: URL, keys: [URL] = []) throws -> InjectionResult {
        try CloudConfigInjector(image: image, modificationTime: 1_700_000_000).inject(config: config, sshKeys: keys)
    }

    @Test(arguments: ["raw", "qcow2"])
    func writesOnlyTheOEMPartition(format: String) throws {
        let disk = try TestDisk()
        defer { disk.remove() }
        let image = format == "raw" ? disk.raw : try disk.qcow2()
        let before = try disk.digests(of: image)
        let config = try disk.write("cc.yml", "#cloud-config\n# keep this comment\nhostname: node1\n")
        let keyFile = try disk.write("key.pub", "# my laptop\n\(key)\n")

        let result = try inject(image, config, keys: [keyFile])
        #expect(result.partition == 6 && result.keysAdded == 1 && result.format == format)
        let after = try disk.digests(of: image)
        #expect(after.outside == before.outside, "every other partition and the GPT stay byte-identical")
        #expect(after.oem != before.oem)
        let written = try #require(try disk.injectedConfig(in: image))
        #expect(written.hasPrefix("#cloud-config\n# keep this comment\nhostname: node1\n"))
        #expect(try CloudConfig(parsing: written).sshAuthorizedKeys == [key])
        #expect(!FileManager.default.fileExists(atPath: image.path + ".coresdk-journal"))
        if format == "qcow2" { try QCOW2.check(image) }
    }

    @Test func injectingAgainReplacesAndIsReproducible() throws {
        let disk = try TestDisk()
        defer { disk.remove() }
        let first = try disk.write("a.yml", "#cloud-config\nhostname: first\n")
        let second = try disk.write("b.yml", "#cloud-config\nhostname: second\nwrite_files:\n  - path: /etc/x\n    content: \(String(repeating: "y", count: 20000))\n")
        let copy = disk.directory.appendingPathComponent("copy.bin")
        try Command.run(["cp", "--sparse=always", disk.raw.path, copy.path])
        _ = try inject(disk.raw, first)
        _ = try inject(copy, first)
        #expect(try Digests.sha256(file: copy) == Digests.sha256(file: disk.raw), "same image, config and time: same bytes")
        _ = try inject(disk.raw, first)
        #expect(try disk.injectedConfig(in: disk.raw) == "#cloud-config\nhostname: first\n")
        _ = try inject(disk.raw, second)
        #expect(try disk.injectedConfig(in: disk.raw)?.contains("hostname: second") == true)
        _ = try inject(disk.raw, first)
        #expect(try disk.injectedConfig(in: disk.raw) == "#cloud-config\nhostname: first\n")
    }

    @Test func refusalsLeaveTheImageUntouched() throws {
        let disk = try TestDisk()
        defer { disk.remove() }
        let image = try disk.qcow2()
        let original = try Digests.sha256(file: image), originalRaw = try Digests.sha256(file: disk.raw)
        let bad = try disk.write("bad.yml", "#cloud-config\nwrite_files:\n  - path: /usr/lib/x\n    permissions: 0999\n")
        let error = try #require(throws: InjectionError.self) { try inject(image, bad) }
        #expect(error.description.contains("bad.yml:3: error: file cannot be written to a read-only filesystem"))
        #expect(error.description.contains("bad.yml:4: error: invalid value 0999"))
        let notCloudConfig = try disk.write("script.sh", "#!/bin/sh\necho hi\n")
        #expect(throws: InjectionError.self) { try inject(image, notCloudConfig) }
        let good = try disk.write("good.yml", "#cloud-config\nhostname: a\n")
        let badKey = try disk.write("bad.pub", "\(key)\nssh-ed25519 not-base64!\n")
        let keyError = try #require(throws: InjectionError.self) { try inject(image, good, keys: [badKey]) }
        #expect(keyError.description.contains("bad.pub:2: not an SSH public key"))
        #expect(throws: (any Error).self) { try inject(image, disk.directory.appendingPathComponent("missing.yml")) }
        // A config too big for the OEM filesystem fails after the edit was tried, still before any write.
        let huge = try disk.write("huge.yml", "#cloud-config\nwrite_files:\n  - path: /etc/big\n    content: \(String(repeating: "z", count: 10 << 20))\n")
        #expect(throws: (any Error).self) { try inject(disk.raw, huge) }
        #expect(try Digests.sha256(file: image) == original)
        #expect(try Digests.sha256(file: disk.raw) == originalRaw)
    }

    @Test func imagesWithoutAnExt4OEMAreRefused() throws {
        let config = try TestDisk().write("cc.yml", "#cloud-config\nhostname: a\n")
        let unlabelled = try TestDisk(oemLabel: "DATA")
        defer { unlabelled.remove() }
        #expect(throws: InjectionError.self) { try inject(unlabelled.raw, config) }
        let notExt4 = try TestDisk(oemIsExt4: false)
        defer { notExt4.remove() }
        let before = try Digests.sha256(file: notExt4.raw)
        let error = try #require(throws: InjectionError.self) { try inject(notExt4.raw, config) }
        #expect(error.description.contains("does not hold an ext4 filesystem labelled OEM"))
        #expect(try Digests.sha256(file: notExt4.raw) == before)
    }

    /// A write cut short (power loss, kill -9) is undone by the next injection before it starts.
    @Test(arguments: ["raw", "qcow2"])
    func anInterruptedWriteIsRolledBack(format: String) throws {
        let disk = try TestDisk()
        defer { disk.remove() }
        let image = format == "raw" ? disk.raw : try disk.qcow2()
        let before = try disk.digests(of: image)
        let journal = WriteJournal(image: try DiskImage(image))
        let oem = disk.layout.partition(number: 6)!
        let changes: [(offset: UInt64, bytes: [UInt8])] = [(oem.byteOffset, [UInt8](repeating: 0xAA, count: 8192)),
                                                           (oem.byteOffset + 65536, [UInt8](repeating: 0xBB, count: 4096))]
        try journal.save(oldBytesOf: changes)
        try DiskImage(image).write(changes[0].bytes, at: changes[0].offset)   // then the machine "crashes"
        #expect(try disk.digests(of: image).oem != before.oem)

        #expect(try WriteJournal(image: try DiskImage(image)).rollBackInterruptedWrite())
        #expect(try disk.digests(of: image) == before)
        #expect(!FileManager.default.fileExists(atPath: journal.url.path))
        #expect(try !WriteJournal(image: try DiskImage(image)).rollBackInterruptedWrite(), "nothing left to undo")
    }
}
