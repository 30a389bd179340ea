import Boot
import DiskFixtures
import Disk
import Foundation
@testable import ImageConfig
import Payload
import PayloadGeneration
import Support
import Testing

@Suite(.serialized) struct PayloadInstallTests {
    func payload(_ fixture: SlotDisk, from disk: URL) throws -> (payload: URL, publicKey: URL) {
        let key = fixture.directory.appendingPathComponent("key.pem"), pub = fixture.directory.appendingPathComponent("key.pub.pem")
        if !FileManager.default.fileExists(atPath: key.path) { try PayloadPrivateKey.generate(privateKey: key, publicKey: pub) }
        let scratch = fixture.directory.appendingPathComponent("source-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let source = try UpdateSource.extract(from: disk, into: scratch)
        let output = fixture.directory.appendingPathComponent("update-\(UUID().uuidString.prefix(4)).gz")
        _ = try PayloadGenerator(partitionImage: source.partition, bootFiles: source.bootFiles, signatureCount: 1)
            .write(to: output, signingKeys: [try PayloadPrivateKey(contentsOf: key)])
        return (output, pub)
    }

    @Test(arguments: ["raw", "qcow2"])
    func installsIntoTheInactiveSlotAndSwitchesLast(format: String) throws {
        let fixture = try SlotDisk()
        defer { fixture.remove() }
        let next = try fixture.makeDisk("next.bin", version: "2")
        let (update, publicKey) = try payload(fixture, from: next)
        var machine = try fixture.makeDisk("machine.bin", version: "1")
        if format == "qcow2" {
            let qcow2 = fixture.directory.appendingPathComponent("machine.qcow2")
            try QCOW2.convert(raw: machine, to: qcow2)
            machine = qcow2
        }
        let usrA = try fixture.bytes(of: machine, partition: 3), root = try fixture.bytes(of: machine, partition: 9)

        let result = try ImageInstallTarget.apply(payload: update, to: machine, publicKeys: [try PayloadPublicKey(contentsOf: publicKey)])
        #expect(result.slot == "USR-B" && result.partition == 4)
        #expect(try fixture.bytes(of: machine, partition: 4) == fixture.bytes(of: next, partition: 3), "USR-B holds the new /usr")
        #expect(try fixture.bytes(of: machine, partition: 3) == usrA, "the active slot is not touched")
        #expect(try fixture.bytes(of: machine, partition: 9) == root)
        for file in SlotBootFiles.File.allCases {
            #expect(try fixture.espFile(machine, file, of: .b) == "\(file.rawValue) of 2")
            #expect(try fixture.espFile(machine, file, of: .a) == "\(file.rawValue) of 1")
        }
        let b = try fixture.attributes(machine, 4), a = try fixture.attributes(machine, 3)
        #expect(b.priority == 2 && b.tries == 1 && !b.successful, "as CoreOS's postinstall: one try, highest priority")
        #expect(a.priority == 1 && a.successful)
        if format == "qcow2" { try QCOW2.check(machine) }

        // Once B has booted well (what the boot check records), the next update goes to A.
        guard format == "raw" else { return }
        try Command.run(["cgpt", "add", "-i", "4", "-S", "1", "-T", "0", machine.path])
        let usrB = try fixture.bytes(of: machine, partition: 4)
        let again = try ImageInstallTarget.apply(payload: update, to: machine, publicKeys: [try PayloadPublicKey(contentsOf: publicKey)])
        #expect(again.slot == "USR-A" && again.priority == 3)
        #expect(try fixture.bytes(of: machine, partition: 4) == usrB)
        #expect(try fixture.espFile(machine, .kernel, of: .a) == "vmlinuz of 2")
    }

    @Test func badPayloadsLeaveTheImageAsItWas() throws {
        let fixture = try SlotDisk()
        defer { fixture.remove() }
        let (update, publicKey) = try payload(fixture, from: try fixture.makeDisk("next.bin", version: "2"))
        let machine = try fixture.makeDisk("machine.bin", version: "1")
        let before = try Digests.sha256(file: machine)
        var bytes = [UInt8](try Data(contentsOf: update))
        bytes[bytes.count - 5] ^= 1
        let forged = fixture.directory.appendingPathComponent("forged.gz")
        try Data(bytes).write(to: forged)
        let key = try PayloadPublicKey(contentsOf: publicKey)
        #expect(throws: (any Error).self) { try ImageInstallTarget.apply(payload: forged, to: machine, publicKeys: [key]) }
        // Damaged partition data is caught while the partition is rebuilt, before the disk is written.
        var damaged = [UInt8](try Data(contentsOf: update))
        damaged[Int(try PayloadFile(update).blobStart) + 10] ^= 1
        let broken = fixture.directory.appendingPathComponent("broken.gz")
        try Data(damaged).write(to: broken)
        #expect(throws: (any Error).self) { try ImageInstallTarget.apply(payload: broken, to: machine, publicKeys: [key]) }
        #expect(throws: (any Error).self, "no key, no install") { try ImageInstallTarget.apply(payload: update, to: machine, publicKeys: []) }
        let other = fixture.directory.appendingPathComponent("other.pem"), otherPub = fixture.directory.appendingPathComponent("other.pub.pem")
        try PayloadPrivateKey.generate(privateKey: other, publicKey: otherPub)
        #expect(throws: (any Error).self) {
            try ImageInstallTarget.apply(payload: update, to: machine, publicKeys: [try PayloadPublicKey(contentsOf: otherPub)])
        }
        #expect(try Digests.sha256(file: machine) == before)
    }
}
