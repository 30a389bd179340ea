import Disk
import DiskFixtures
import Foundation
import HummingbirdTesting
@testable import ImageConfig
import Omaha
import Payload
import PayloadGeneration
import Support
import TestSupport
import UpdateAgent
import UpdateServer
import XCTest

/// The in-image update engine against `coresdk serve`'s server over HTTP on 127.0.0.1, installing
/// into a small A/B disk image through the installer `payload apply` uses: what the server hears,
/// what the disk holds after each step, and what happens after the "reboot" (a new engine over the
/// same state directory, running the version the disk would boot).
final class UpdateEngineTests: XCTestCase {
    /// A machine: its disk, its state directories, the version it runs and where its update key is.
    final class Machine: @unchecked Sendable {
        let disk: SlotDisk
        let image: URL
        let state: Scratch
        var version = "1.2.3"
        var publicKey: String

        init(disk: SlotDisk, image: URL, state: Scratch, publicKey: String) {
            self.disk = disk
            self.image = image
            self.state = state
            self.publicKey = publicKey
        }

        func engine(server: String, log: @escaping (String) -> Void = { print("engine: \($0)") }) -> UpdateEngine {
            var paths = UpdateEngine.Paths()
            paths.state = state.path("var-lib-update_engine").path
            paths.run = state.path("run-update_engine").path
            paths.publicKey = publicKey
            let files = [
                "/usr/share/coreos/release": "COREOS_RELEASE_VERSION=\(version)\nCOREOS_RELEASE_BOARD=amd64-usr\n",
                "/etc/coreos/update.conf": "SERVER=\(server)\nGROUP=stable\n",
            ]
            let image = image, scratch = state.path("scratch")
            return UpdateEngine(identity: .init(machineID: "0123456789abcdef0123456789abcdef", bootID: "boot-1"), paths: paths,
                                read: { files[$0] }, makeTarget: {
                                    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
                                    return try ImageInstallTarget(image: image, scratch: scratch)
                                }, log: log)
        }
    }

    /// On each store: a 1.2.3 machine, and a live server whose group `stable` offers 1.2.4.
    func withServerAndMachine(_ body: @escaping @Sendable (_ fixture: UpdateServerFixture, _ machine: Machine, _ client: any TestClientProtocol,
                                                          _ server: String, _ published: PublishedPayload) async throws -> Void) async {
        await UpdateServerFixture.forEachStore { fixture in
            let disk = try SlotDisk()
            defer { disk.remove() }
            let machine = Machine(disk: disk, image: try disk.makeDisk("machine.bin", version: "1.2.3"), state: try Scratch(),
                                  publicKey: fixture.publicKey.path)
            try await fixture.live { client in
                let published = try await client.setUpStable(fixture)
                try await body(fixture, machine, client, "http://127.0.0.1:\(client.port!)/v1/update/", published)
            }
        }
    }

    func testAMachineDownloadsInstallsAndReportsTheUpdateCompleteAfterItsReboot() async throws {
        await withServerAndMachine { _, machine, client, server, _ in
            let engine = machine.engine(server: server)
            XCTAssertEqual(engine.attempt(), .answered(pollInterval: nil))
            XCTAssertEqual(engine.report.status, .updatedNeedReboot)
            XCTAssertEqual(engine.report.newVersion, "1.2.4")
            // USR-B holds the payload's /usr and gets one try ahead of USR-A; USR-A is untouched.
            let usrB = try machine.disk.bytes(of: machine.image, partition: 4)
            XCTAssertEqual(usrB.prefix(8192), Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 * 7) }))
            XCTAssertEqual(try machine.disk.attributes(machine.image, 4), GPTPartitionAttributes(priority: 2, tries: 1, successful: false))
            XCTAssertEqual(try machine.disk.espFile(machine.image, .kernel, of: .b), "kernel 1.2.4")
            let events: [RecordedEvent] = try await client.api(.get, "/api/events")
            XCTAssertEqual(events.map { "\($0.type)/\($0.result)" }, ["13/1", "14/1", "3/1"])
            XCTAssertEqual(UpdateEngineClient(run: engine.paths.run).status?.status, .updatedNeedReboot, "the client reads what the daemon wrote")

            // A restarted daemon before the reboot installs nothing more.
            let restarted = machine.engine(server: server)
            XCTAssertEqual(restarted.report.status, .updatedNeedReboot)
            restarted.attempt()
            let pinged: [RecordedEvent] = try await client.api(.get, "/api/events")
            XCTAssertEqual(pinged.count, 3, "pings only")

            // After the reboot into 1.2.4 (the marker in /run is gone with the reboot).
            try FileManager.default.removeItem(atPath: engine.paths.run)
            machine.version = "1.2.4"
            let rebooted = machine.engine(server: server)
            rebooted.attempt()
            XCTAssertEqual(rebooted.report.status, .idle)
            let instances: [Instance] = try await client.api(.get, "/api/instances")
            XCTAssertEqual(instances.first?.status, .complete)
            XCTAssertEqual(instances.first?.version, "1.2.4")
            XCTAssertEqual(instances.first?.previousVersion, "1.2.3")
            rebooted.attempt()
            let after: [RecordedEvent] = try await client.api(.get, "/api/events")
            XCTAssertEqual(after.map { "\($0.type)/\($0.result)" }, ["13/1", "14/1", "3/1", "3/2"], "3/2 is sent once")
        }
    }

    func testBackOnTheOldVersionTheEngineReportsARollbackAndTheGroupHalts() async throws {
        await withServerAndMachine { _, machine, client, server, _ in
            XCTAssertEqual(machine.engine(server: server).attempt(), .answered(pollInterval: nil))
            // The new slot failed; the bootloader fell back and the machine runs 1.2.3 again.
            try FileManager.default.removeItem(atPath: machine.state.path("run-update_engine").path)
            let back = machine.engine(server: server)
            back.attempt()
            let events: [RecordedEvent] = try await client.api(.get, "/api/events")
            XCTAssertEqual(events.last.map { "\($0.type)/\($0.result)/\($0.errorCode ?? -1)" }, "3/0/44")
            let groups: [UpdateGroup] = try await client.api(.get, "/api/groups")
            XCTAssertEqual(groups.first?.status.hasPrefix("halted"), true, groups.first?.status ?? "")
            XCTAssertEqual(back.report.status, .idle, "a halted group offers nothing")
        }
    }

    func testNothingIsInstalledWithoutTheKeyOrFromADamagedDownload() async throws {
        await withServerAndMachine { fixture, machine, client, server, published in
            let before = try machine.disk.bytes(of: machine.image, partition: 4)
            let attributes = try machine.disk.attributes(machine.image, 4)

            machine.publicKey = fixture.scratch.path("missing.pub.pem").path
            let keyless = machine.engine(server: server)
            keyless.attempt()
            XCTAssertEqual(keyless.report.status, .idle)
            XCTAssertEqual(UpdateEngineClient(run: keyless.paths.run).lastAttempt.result, UpdateEngine.Failure.publicKey.rawValue)
            let halted: [UpdateGroup] = try await client.api(.get, "/api/groups")
            XCTAssertEqual(halted.first?.status.hasPrefix("halted"), true, "a failed install halts the group")
            let _: UpdateGroup = try await client.api(.post, "/api/groups/stable/resume")

            // The stored payload damaged after publishing: its hash no longer matches the offer.
            machine.publicKey = fixture.publicKey.path
            let stored = try XCTUnwrap(FileManager.default.enumerator(atPath: fixture.scratch.path("server").path)?
                .compactMap { $0 as? String }.first { $0.hasSuffix(published.fileName) && $0.hasPrefix("payloads/") })
            let handle = try FileHandle(forWritingTo: fixture.scratch.path("server").appendingPathComponent(stored))
            try handle.seek(toOffset: 100)
            try handle.write(contentsOf: Data([0xFF, 0xFE]))
            try handle.close()
            let damaged = machine.engine(server: server)
            damaged.attempt()
            XCTAssertEqual(UpdateEngineClient(run: damaged.paths.run).lastAttempt.result, UpdateEngine.Failure.payloadHashMismatch.rawValue)

            let events: [RecordedEvent] = try await client.api(.get, "/api/events")
            XCTAssertEqual(events.compactMap(\.errorCode).map { $0 & 0x0FFF_FFFF }, [18, 10])
            XCTAssertEqual(try machine.disk.bytes(of: machine.image, partition: 4), before, "USR-B untouched")
            XCTAssertEqual(try machine.disk.attributes(machine.image, 4), attributes)
        }
    }

    func testAServerThatCannotBeReachedIsAFailedCheckNotAnInstall() throws {
        let state = try Scratch()
        let disk = try SlotDisk()
        defer { disk.remove() }
        let machine = Machine(disk: disk, image: try disk.makeDisk("machine.bin", version: "1.2.3"), state: state,
                              publicKey: state.path("none.pem").path)
        let engine = machine.engine(server: "http://127.0.0.1:\(try freePort())/v1/update/")
        XCTAssertEqual(engine.attempt(), .answered(pollInterval: nil))
        XCTAssertEqual(engine.report.status, .idle)
        XCTAssertEqual(UpdateEngineClient(run: engine.paths.run).lastAttempt.result, UpdateEngine.Failure.httpBase)
    }
}
