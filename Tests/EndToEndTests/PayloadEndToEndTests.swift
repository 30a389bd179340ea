import Foundation
import XCTest

/// The A/B update as a user runs it: build version N and N+1, make a signed payload of N+1, apply it
/// to a machine image of N, boot. N+1 runs from USR-B and is marked good; a payload whose /usr is
/// totally damaged brings the machine back on USR-A running N, with nobody at the console. (A /usr
/// damaged sparsely, installed by the machine's own update engine, is UpdateEndToEndTests'.)
final class PayloadEndToEndTests: XCTestCase {
    static let nextVersion = "1.2.4"

    struct Prepared {
        let directory: URL
        let next: URL
        let privateKey: URL
        let publicKey: URL
        let sshKey: URL
    }

    nonisolated(unsafe) static var prepared: Result<Prepared, Error>?

    override class func tearDown() {
        if let directory = try? prepared?.get().directory { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    /// Version N+1 built into the shared fixture's workspace and cache (only what the version changes
    /// is rebuilt), a signing key pair and an SSH key.
    func prepare() throws -> Prepared {
        if let prepared = Self.prepared { return try prepared.get() }
        let result = Result { () throws -> Prepared in
            let fixture = try ImageFixture.coldBuild()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-payload-\(UUID().uuidString.prefix(6))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let build = try CoreSDKRunner.coresdk(["build", "image", "--board", ImageFixture.board, "--version", Self.nextVersion,
                                                   "--output", fixture.output.path, "--cache-dir", fixture.cache.path], in: fixture.workspace)
            guard build.status == 0 else { throw NSError(domain: "e2e", code: 1, userInfo: [NSLocalizedDescriptionKey: build.standardError]) }
            let next = fixture.output.appendingPathComponent("\(ImageFixture.board)/\(Self.nextVersion)/coreos_production_image.bin")
            let privateKey = directory.appendingPathComponent("update-key.pem"), publicKey = directory.appendingPathComponent("update-key.pub.pem")
            try coresdk(["keys", "generate", "--private-key", privateKey.path, "--public-key", publicKey.path])
            let sshKey = directory.appendingPathComponent("id_ed25519")
            try CoreSDKRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", sshKey.path])
            return Prepared(directory: directory, next: next, privateKey: privateKey, publicKey: publicKey, sshKey: sshKey)
        }
        Self.prepared = result
        return try result.get()
    }

    @discardableResult
    func coresdk(_ arguments: [String]) throws -> String {
        try CoreSDKRunner.run([CoreSDKRunner.binary.path] + arguments).standardOutput
    }

    /// A machine image of version N that lets core in.
    func machine(_ name: String, from file: String) throws -> URL {
        let prepared = try prepare()
        let image = prepared.directory.appendingPathComponent(name)
        try CoreSDKRunner.run(["cp", "--sparse=always", try ImageFixture.file(file).path, image.path])
        let config = prepared.directory.appendingPathComponent("cloud-config.yml")
        try "#cloud-config\n".write(to: config, atomically: true, encoding: .utf8)
        try coresdk(["inject", "cloud-config", image.path, config.path, "--ssh-key", prepared.sshKey.path + ".pub"])
        return image
    }

    func testUpdateBootsTheNewVersionFromUSRBAndIsMarkedGood() throws {
        let prepared = try prepare()
        let payload = prepared.directory.appendingPathComponent("coreos_production_update.gz")
        let generated = try coresdk(["payload", "generate", "--image", prepared.next.path, "--private-key", prepared.privateKey.path,
                                     "--output", payload.path, "--json"])
        let facts = try JSONSerialization.jsonObject(with: Data(generated.utf8)) as? [String: Any]
        print("payload: \(facts?["size"] ?? "?") bytes from a \(facts?["partitionSize"] ?? "?")-byte /usr in \(facts?["seconds"] ?? "?") s")
        XCTAssertTrue(try coresdk(["payload", "verify", payload.path, "--public-key", prepared.publicKey.path]).contains("valid"))
        let omaha = try coresdk(["payload", "omaha", payload.path, "--url", "http://127.0.0.1:8080/updates"])
        XCTAssertTrue(omaha.contains(#"<manifest version="\#(Self.nextVersion)">"#), omaha)

        let image = try machine("update-good.img", from: "coreos_production_qemu_image.img")
        let applied = try coresdk(["payload", "apply", image.path, payload.path, "--public-key", prepared.publicKey.path, "--json"])
        XCTAssertTrue(applied.contains(#""slot" : "USR-B""#), applied)
        XCTAssertEqual(try ImageFixture.gptprio(image, 4).tries, 1)

        let machine = try BootedMachine(disk: image, key: prepared.sshKey)
        try machine.waitForConsole("login:", timeout: 300)
        XCTAssertTrue(machine.console.contains("coreos-boot: USR-B"), "the updated slot boots")
        XCTAssertEqual(try machine.ssh(". /usr/lib/os-release; echo $VERSION_ID").trimmingCharacters(in: .whitespacesAndNewlines), Self.nextVersion)
        XCTAssertTrue(try machine.ssh("cat /proc/cmdline").contains("verity.usr=PARTUUID=e03dd35c-7c2d-4a47-b3fe-27f15780a57c"))
        // The boot check marks the slot good 45 s after a boot without failed units.
        let state = try machine.waitUntilSlotIsMarkedGood(4, timeout: 180)
        XCTAssertTrue(state.contains("successful=1"), state)
        try machine.powerOff()
        let b = try ImageFixture.gptprio(image, 4)
        XCTAssertEqual(b.successful, 1)
        XCTAssertEqual(b.tries, 0)
        XCTAssertGreaterThan(b.priority, try ImageFixture.gptprio(image, 3).priority)
    }

    /// A v2 whose whole /usr file system is overwritten (its verity hash tree left as it was).
    func testUpdateWithATotallyDamagedUsrRollsBackToTheOldVersion() throws {
        try assertRollsBack(damagedName: "total") { handle, usr in
            // squashfs's bytes_used (superblock offset 40): everything the file system holds.
            try handle.seek(toOffset: UInt64(usr.offset + 40))
            let bytesUsed = try XCTUnwrap(handle.read(upToCount: 8)).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            try handle.seek(toOffset: UInt64(usr.offset))
            for start in stride(from: 0, to: bytesUsed, by: 1 << 20) {
                try handle.write(contentsOf: Data(repeating: 0x5A, count: min(1 << 20, bytesUsed - start)))
            }
        }
    }

    /// Damages N+1's USR-A with `damage`, makes a correctly signed payload of it, applies it to a
    /// machine of N and boots: USR-B is tried, refused, and USR-A runs N again, with nobody at the
    /// console; B's only try is used up and it is not marked good.
    func assertRollsBack(damagedName: String, damage: (FileHandle, (offset: Int, bytes: Int)) throws -> Void) throws {
        let prepared = try prepare()
        let broken = prepared.directory.appendingPathComponent("broken-\(damagedName).bin")
        try CoreSDKRunner.run(["cp", "--sparse=always", prepared.next.path, broken.path])
        let usr = try ImageFixture.partition(3, of: broken)
        let handle = try FileHandle(forUpdating: broken)
        try damage(handle, (offset: usr.start * 512, bytes: usr.sectors * 512))
        try handle.close()
        let payload = prepared.directory.appendingPathComponent("broken-\(damagedName)_update.gz")
        try coresdk(["payload", "generate", "--image", broken.path, "--private-key", prepared.privateKey.path, "--output", payload.path])

        let image = try machine("update-\(damagedName).bin", from: "coreos_production_image.bin")
        try coresdk(["payload", "apply", image.path, payload.path, "--public-key", prepared.publicKey.path])
        let machine = try BootedMachine(disk: image, key: prepared.sshKey)
        try machine.waitForConsole("coreos-boot: USR-B", timeout: 120)
        let failedAt = try machine.waitForConsole("failed verification", timeout: 300)
        try machine.waitForConsole("coreos-boot: USR-A", timeout: 120)
        let loginAt = try machine.waitForConsole("login:", timeout: 300)
        print("payload (\(damagedName) damage): fallback to USR-A reached the login prompt \(Int(loginAt - failedAt)) s after the failure")
        XCTAssertLessThan(loginAt - failedAt, 180)
        XCTAssertEqual(try machine.ssh(". /usr/lib/os-release; echo $VERSION_ID").trimmingCharacters(in: .whitespacesAndNewlines),
                       ImageFixture.version, "the old version runs again")
        try machine.powerOff()
        let b = try ImageFixture.gptprio(image, 4)
        XCTAssertEqual(b.tries, 0, "the update's only try is used up")
        XCTAssertEqual(b.successful, 0)
        XCTAssertEqual(try ImageFixture.gptprio(image, 3).successful, 1)
    }
}
