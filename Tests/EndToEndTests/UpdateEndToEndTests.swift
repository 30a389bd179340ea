import Foundation
import XCTest

/// Machines updating themselves, as the article has it: three machines of version N in an etcd
/// cluster, their update_engine pointed at `coresdk serve` on the host (10.0.2.2 from inside) and
/// locksmithd on `etcd-lock`. N+1 is published and nobody acts: each machine downloads, installs,
/// takes the reboot lock, reboots into USR-B, is marked good and releases the lock — one at a time,
/// etcd answering throughout. Then a correctly signed N+2 whose /usr fails verification, rolled out
/// to one machine at a time: that machine boots it, falls back to N+1 by itself and reports error 44;
/// the group halts and nobody else is offered N+2.
final class UpdateEndToEndTests: XCTestCase {
    static let next = "1.2.4", broken = "1.2.5"
    /// Divides update_engine's and locksmithd's waits (2700 s between checks becomes 22 s).
    static let timeScale = 120

    var directory: URL!
    var key: URL!
    var discovery: (etcd: HostEtcd, url: String, port: Int)!
    var server: UpdateServerEndToEndTests.Server!
    var machines: [BootedMachine] = []

    override func setUpWithError() throws {
        directory = try CoreSDKRunner.scratchDirectory("coresdk-update")
        key = directory.appendingPathComponent("key")
        try CoreSDKRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.path])
        discovery = try HostEtcd.discovery(in: directory)
        server = try UpdateServerEndToEndTests.Server(data: directory.appendingPathComponent("server"))
    }

    override func tearDown() {
        machines.removeAll()
        server?.stop()
        discovery = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// Version `version` built in the shared fixture's workspace, its payload signed with the key the
    /// images trust; `damage` changes its USR-A first.
    func payload(_ version: String, damage: ((FileHandle, (offset: Int, bytes: Int)) throws -> Void)? = nil) throws -> URL {
        let fixture = try ImageFixture.coldBuild()
        let build = try CoreSDKRunner.coresdk(["build", "image", "--board", ImageFixture.board, "--version", version,
                                               "--output", fixture.output.path, "--cache-dir", fixture.cache.path], in: fixture.workspace)
        XCTAssertEqual(build.status, 0, build.standardError)
        var image = fixture.output.appendingPathComponent("\(ImageFixture.board)/\(version)/coreos_production_image.bin")
        if let damage {
            let copy = directory.appendingPathComponent("damaged-\(version).bin")
            try CoreSDKRunner.run(["cp", "--sparse=always", image.path, copy.path])
            let usr = try ImageFixture.partition(3, of: copy)
            let handle = try FileHandle(forUpdating: copy)
            try damage(handle, (offset: usr.start * 512, bytes: usr.sectors * 512))
            try handle.close()
            image = copy
        }
        let payload = directory.appendingPathComponent("coreos_production_update-\(version).gz")
        try CoreSDKRunner.run([CoreSDKRunner.binary.path, "payload", "generate", "--image", image.path,
                               "--private-key", CoreSDKRunner.updateKey.privateKey.path, "--output", payload.path])
        return payload
    }

    /// The server's machines as id → (version, status, previous version).
    func instances() throws -> [String: (version: String, status: String, previous: String)] {
        let list = try XCTUnwrap(try server.updates(["instances"]) as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map {
            ($0["machineID"] as? String ?? "", ($0["version"] as? String ?? "", $0["status"] as? String ?? "", $0["previousVersion"] as? String ?? ""))
        })
    }

    /// When each machine's console showed a reboot starting and the next login prompt after it.
    final class RebootWatch {
        var restarts: [Int: [Date]] = [:], logins: [Int: [Date]] = [:]
        var etcdRounds = 0, etcdRoundsAnswered = 0

        func sample(_ machines: [BootedMachine]) {
            for (index, machine) in machines.enumerated() {
                let console = machine.console
                let restartCount = console.components(separatedBy: "reboot: Restarting system").count - 1
                let loginCount = console.components(separatedBy: "login:").count - 1
                while restarts[index, default: []].count < restartCount { restarts[index, default: []].append(Date()) }
                while logins[index, default: []].count < loginCount { logins[index, default: []].append(Date()) }
            }
        }

        /// The intervals a machine was away: from its reboot to its next login prompt.
        func away(_ index: Int) -> [ClosedRange<Date>] {
            restarts[index, default: []].map { start in start...(logins[index, default: []].first { $0 > start } ?? .distantFuture) }
        }
    }

    func testMachinesUpdateOneRebootAtATimeAndABrokenUpdateRollsBackAndHaltsTheGroup() throws {
        let nextPayload = try payload(Self.next)
        let brokenPayload = try payload(Self.broken) { handle, usr in
            // 4 KiB overwritten every 256 KiB: a /usr that mostly works, as a bad disk or build leaves it.
            for offset in stride(from: 256 * 1024, to: usr.bytes, by: 256 * 1024) {
                try handle.seek(toOffset: UInt64(usr.offset + offset))
                try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096))
            }
        }
        _ = try server.updates(["channel", "create", "stable", "--public-key", CoreSDKRunner.updateKey.publicKey.path])
        _ = try server.updates(["group", "set", "stable", "--channel", "stable"])
        let port = try XCTUnwrap(URL(string: server.url)?.port)

        // Three machines of N, as a user configures them: coreos.update names the server and the
        // strategy; TIME_SCALE only shortens the waits.
        let token = try ClusterEndToEndTests.newToken(size: 3, discovery: discovery.url)
        // The first machine listens for the other two; its QEMU hub joins all three.
        let links = [try BootedMachine.freePort(), try BootedMachine.freePort()]
        for number in 1...3 {
            let config = ClusterEndToEndTests.cloudConfig(
                number, discoveryPort: discovery.port, token: token, docker: false, fleet: false,
                coreos: "  update:\n    server: http://10.0.2.2:\(port)/v1/update/\n    reboot-strategy: etcd-lock\n",
                files: "  - path: /etc/coreos/update.conf\n    content: |\n      TIME_SCALE=\(Self.timeScale)\n")
            machines.append(try ClusterEndToEndTests.boot(number, config: config, links: number == 1 ? links.map { "listen:\($0)" } : ["connect:\(links[number - 2])"],
                                                          in: directory, key: key))
        }
        for machine in machines { XCTAssertEqual(try machine.eventually("etcdctl set /e2e up", timeout: 600), "up") }
        let ids = try machines.map { try $0.output("cat /etc/machine-id") }

        // N+1 is published; nobody acts.
        let published = Date()
        _ = try server.updates(["publish", "stable", nextPayload.path])
        let watch = RebootWatch()
        let deadline = Date().addingTimeInterval(30 * 60)
        while Date() < deadline {
            watch.sample(machines)
            let seen = try instances()
            if ids.allSatisfy({ seen[$0]?.status == "complete" && seen[$0]?.version == Self.next }) { break }
            // etcd answers while one member reboots: a quorum read through any machine that is up.
            watch.etcdRounds += 1
            if machines.contains(where: { (try? $0.ssh("etcdctl get /e2e", timeout: 15)) != nil }) { watch.etcdRoundsAnswered += 1 }
            Thread.sleep(forTimeInterval: 5)
        }
        print("update: N+1 published to all three machines running it, marked good: \(Int(Date().timeIntervalSince(published))) s")
        let seen = try instances()
        for id in ids {
            XCTAssertEqual(seen[id]?.status, "complete", "\(id): \(String(describing: seen[id]))")
            XCTAssertEqual(seen[id]?.previous, ImageFixture.version)
        }
        XCTAssertEqual(watch.etcdRoundsAnswered, watch.etcdRounds, "etcd answered in every round")
        for (index, machine) in machines.enumerated() {
            XCTAssertEqual(try machine.output(". /usr/lib/os-release; echo $VERSION_ID"), Self.next)
            XCTAssertTrue(try machine.waitUntilSlotIsMarkedGood(4, timeout: 300).contains("successful=1"), "machine \(index + 1) runs USR-B, marked good")
            XCTAssertEqual(watch.restarts[index]?.count, 1, "machine \(index + 1) rebooted once")
        }
        // Never two away at once: each reboot starts after the previous machine's login prompt.
        let away = machines.indices.flatMap(watch.away).sorted { $0.lowerBound < $1.lowerBound }
        for (earlier, later) in zip(away, away.dropFirst()) {
            XCTAssertLessThan(earlier.upperBound, later.lowerBound, "two machines rebooting at once: \(away)")
        }
        // Each released its slot once its new boot was marked good.
        XCTAssertEqual(try machines[0].eventually("locksmithctl status | head -1 | grep -x 'Available: 1'", timeout: 300), "Available: 1")

        // N+2, broken, one machine at a time: at most one update in progress (the period is short so
        // that N+1's grants do not count against N+2).
        _ = try server.updates(["group", "set", "stable", "--channel", "stable", "--max-updates", "1", "--period", "1s"])
        _ = try server.updates(["publish", "stable", brokenPayload.path])
        var halted = ""
        let haltDeadline = Date().addingTimeInterval(20 * 60)
        while Date() < haltDeadline {
            let groups = try XCTUnwrap(try server.updates(["group", "list"]) as? [[String: Any]])
            halted = groups.first?["status"] as? String ?? ""
            if halted.hasPrefix("halted") { break }
            Thread.sleep(forTimeInterval: 10)
        }
        XCTAssertTrue(halted.contains("rolled back") && halted.contains("44"), halted)
        let events = try XCTUnwrap(try server.updates(["events"]) as? [[String: Any]])
        let rolledBack = Set(events.filter { ($0["errorCode"] as? Int).map { $0 & 0x0FFF_FFFF == 44 } ?? false }.map { $0["machineID"] as? String ?? "" })
        XCTAssertEqual(rolledBack.count, 1, "one machine tried N+2")
        let offered = Set(events.filter { ($0["type"] as? Int) == 13 && ($0["version"] as? String) == Self.next }.map { $0["machineID"] as? String ?? "" })
        XCTAssertEqual(offered, rolledBack, "only the machine that rolled back downloaded N+2")
        for (index, machine) in machines.enumerated() {
            XCTAssertEqual(try machine.eventually(". /usr/lib/os-release; echo $VERSION_ID", timeout: 600), Self.next,
                           "machine \(index + 1) runs N+1")
        }
        // A check from any machine now gets nothing: the group is halted.
        XCTAssertEqual(try server.check("another-machine").updateCheck, .noUpdate)
    }
}
