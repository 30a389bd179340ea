import Foundation
import XCTest

/// The article's walkthrough on one host: a discovery etcd on 127.0.0.1 (Debian's etcd-server),
/// machines booted from the default image with a cloud-config each (hostname, `coreos.etcd`, units
/// etcd, docker and fleet, a static address for the second NIC from `write_files`), linked by
/// `coresdk qemu --link` (QEMU sockets on 127.0.0.1) and reaching the discovery etcd through
/// QEMU's user network (10.0.2.2 is the host). Everything is checked over `ssh core@127.0.0.1`.
final class ClusterEndToEndTests: XCTestCase {
    var directory: URL!
    var key: URL!
    var discovery: (etcd: HostEtcd, url: String, port: Int)!
    var machines: [BootedMachine] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-cluster-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        key = directory.appendingPathComponent("key")
        try CoreSDKRunner.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.path])
        discovery = try HostEtcd.discovery(in: directory)
    }

    override func tearDown() {
        machines.removeAll()  // QEMU is stopped with each; the disks are thrown away
        discovery = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// The article's hello.service, with `docker pull busybox` left out: no registry is reachable,
    /// the image is imported on the machine instead.
    static let helloService = """
        [Unit]
        Description=My Service
        After=docker.service
        Requires=docker.service

        [Service]
        TimeoutStartSec=0
        ExecStartPre=-/usr/bin/docker kill hello
        ExecStartPre=-/usr/bin/docker rm hello
        ExecStart=/usr/bin/docker run --name hello busybox /bin/sh -c "while true; do echo Hello World; sleep 1; done"
        ExecStop=/usr/bin/docker stop hello
        """

    /// Machine `number`'s cloud-config, as the article writes it (its addresses on 192.168.100.0/24),
    /// with `coreos` and `files` lines added to its `coreos` section and its `write_files`.
    static func cloudConfig(_ number: Int, discoveryPort: Int, token: String, docker: Bool, fleet: Bool = true,
                            coreos: String = "", files: String = "") -> String {
        let address = "192.168.100.1\(number)"
        let units = (["etcd.service"] + (docker ? ["docker.service"] : []) + (fleet ? ["fleet.service"] : []))
            .map { "    - name: \($0)\n      command: start\n" }.joined()
        let hello = docker ? "    - name: hello.service\n      content: |\n"
            + Self.helloService.split(separator: "\n", omittingEmptySubsequences: false).map { "        \($0)\n" }.joined() : ""
        return """
            #cloud-config
            hostname: coreos\(number)
            coreos:
              etcd:
                name: coreos\(number)
                discovery: http://10.0.2.2:\(discoveryPort)/v2/keys/discovery/\(token)
                addr: \(address):4001
                peer-addr: \(address):7001
                bind-addr: 0.0.0.0
            \(coreos)  units:
            \(units)\(hello)write_files:
              - path: /etc/systemd/network/10-cluster.network
                content: |
                  [Match]
                  MACAddress=\(Self.mac(number))
                  [Network]
                  Address=\(address)/24
            \(files)
            """
    }

    static func mac(_ number: Int) -> String { "52:54:00:00:01:0\(number)" }

    /// Copies the default image, injects machine `number`'s cloud-config and boots it with `links`.
    func boot(_ number: Int, token: String, docker: Bool, links: [String]) throws -> BootedMachine {
        let machine = try Self.boot(number, config: Self.cloudConfig(number, discoveryPort: discovery.port, token: token, docker: docker),
                                    links: links, in: directory, key: key)
        machines.append(machine)
        return machine
    }

    /// Copies the default image into `directory`, injects `config` with `key` for core and boots it
    /// with machine `number`'s second NIC on `links`.
    static func boot(_ number: Int, config: String, links: [String], in directory: URL, key: URL) throws -> BootedMachine {
        let disk = directory.appendingPathComponent("coreos\(number).qcow2")
        try CoreSDKRunner.run(["cp", try ImageFixture.file("coreos_production_qemu_image.img").path, disk.path])
        let file = directory.appendingPathComponent("coreos\(number).yml")
        try config.write(to: file, atomically: true, encoding: .utf8)
        try CoreSDKRunner.run([CoreSDKRunner.binary.path, "inject", "cloud-config", disk.path, file.path,
                               "--ssh-key", key.path + ".pub"])
        return try BootedMachine(disk: disk, key: key, options: ["--cpus", "1", "--link-mac", mac(number)]
                                 + links.flatMap { ["--link", $0] })
    }

    /// A discovery token for a cluster of `size` members, as discovery.etcd.io/new?size=N makes one.
    func newToken(size: Int) throws -> String { try Self.newToken(size: size, discovery: discovery.url) }

    static func newToken(size: Int, discovery: String) throws -> String {
        let token = "cluster-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try HostEtcd.etcdctl(["--endpoints", discovery, "set", "/discovery/\(token)/_config/size", String(size)], v2: true)
        return token
    }

    /// `etcdctl member list` lines as name → isLeader.
    func members(on machine: BootedMachine) throws -> [String: Bool] {
        var members: [String: Bool] = [:]
        for line in try machine.eventually("etcdctl member list").split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let name = fields.first(where: { $0.hasPrefix("name=") })?.dropFirst(5) else { continue }
            members[String(name)] = fields.contains("isLeader=true")
        }
        return members
    }

    func testTwoMachinesShareEtcdAndDockerRunsHelloWorld() throws {
        let token = try newToken(size: 2)
        let link = try BootedMachine.freePort()
        let first = try boot(1, token: token, docker: true, links: ["listen:\(link)"])
        let second = try boot(2, token: token, docker: true, links: ["connect:\(link)"])

        XCTAssertEqual(try first.output("hostname", timeout: 400), "coreos1")
        XCTAssertTrue(try second.ssh("ip -4 -br address", timeout: 400).contains("192.168.100.12/24"), "the static address from write_files")
        // The article's commands, typed as shown.
        XCTAssertEqual(try first.eventually("etcdctl set /message Hello"), "Hello")
        XCTAssertEqual(try second.eventually("etcdctl get /message"), "Hello")
        XCTAssertEqual(Set(try members(on: second).keys), ["coreos1", "coreos2"], "one cluster of both machines")
        let registered = try HostEtcd.etcdctl(["--endpoints", discovery.url, "ls", "/discovery/\(token)"], v2: true)
        XCTAssertEqual(registered.split(separator: "\n").filter { !$0.hasSuffix("_config") }.count, 2,
                       "both registered with the discovery etcd: \(registered)")

        // Docker as core, without sudo: an image imported from the machine's own busybox, then the
        // article's hello.service.
        XCTAssertTrue(try first.output("id -nG").split(separator: " ").contains("docker"))
        try first.ssh("""
            set -e; d=$(mktemp -d); mkdir "$d/bin"; cp /usr/bin/busybox "$d/bin/"
            for tool in sh echo sleep; do ln -s busybox "$d/bin/$tool"; done
            tar -C "$d" -c . | docker import - busybox
            """, timeout: 300)
        try first.ssh("sudo systemctl start hello.service")
        let printed = try first.eventually("test $(sudo journalctl -u hello.service -o cat | grep -c '^Hello World$') -ge 3 && docker ps --format '{{.Names}} {{.Image}}'")
        XCTAssertEqual(printed, "hello busybox", "hello runs from the imported image")
        XCTAssertEqual(try first.output("docker inspect --format '{{.AppArmorProfile}}' hello"), "docker-default",
                       "containers are confined by docker's AppArmor profile")
        let count = { try Int(first.output("sudo journalctl -u hello.service -o cat | grep -c '^Hello World$'")) ?? 0 }
        let before = try count()
        Thread.sleep(forTimeInterval: 5)
        XCTAssertGreaterThan(try count(), before, "it keeps printing Hello World")

        // fleet is not in the image: reported, and the boot goes on with no failed unit.
        for machine in [first, second] {
            XCTAssertEqual(try machine.output("sudo journalctl -b -o cat | grep -q 'Unit fleet.service not found' && echo reported"),
                           "reported", "the missing fleet.service is in the journal")
            XCTAssertEqual(try machine.output("systemctl list-units --failed --no-legend --plain"), "")
        }
    }

    func testThreeMachinesKeepServingWhenTheLeaderStops() throws {
        let token = try newToken(size: 3)
        // The first machine listens for the other two; its QEMU hub joins all three.
        let links = [try BootedMachine.freePort(), try BootedMachine.freePort()]
        let cluster = [try boot(1, token: token, docker: false, links: links.map { "listen:\($0)" }),
                       try boot(2, token: token, docker: false, links: ["connect:\(links[0])"]),
                       try boot(3, token: token, docker: false, links: ["connect:\(links[1])"])]
        for machine in cluster { try machine.ssh("true", timeout: 500) }
        XCTAssertEqual(try cluster[0].eventually("etcdctl set /message Hello"), "Hello")
        var members: [String: Bool] = [:]
        let deadline = Date().addingTimeInterval(300)
        repeat { members = try self.members(on: cluster[1]) } while members.count < 3 && Date() < deadline
        XCTAssertEqual(Set(members.keys), ["coreos1", "coreos2", "coreos3"])
        let leaderName = try XCTUnwrap(members.first { $0.value }?.key, "a leader: \(members)")
        let leaderIndex = Int(leaderName.dropFirst("coreos".count))! - 1

        try cluster[leaderIndex].ssh("sudo systemctl stop etcd.service")
        let survivors = cluster.indices.filter { $0 != leaderIndex }.map { cluster[$0] }
        XCTAssertEqual(try survivors[0].eventually("etcdctl get /message", timeout: 120), "Hello")
        XCTAssertEqual(try survivors[1].eventually("etcdctl set /after Leader-change", timeout: 120), "Leader-change",
                       "the two left still take writes")
        XCTAssertEqual(try survivors[0].eventually("etcdctl get /after"), "Leader-change")
        let newLeader = try XCTUnwrap(try self.members(on: survivors[0]).first { $0.value }?.key)
        XCTAssertNotEqual(newLeader, leaderName, "another member leads")
    }
}
