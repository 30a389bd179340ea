import Foundation
import XCTest

/// The article's `coreos.etcd` section (name, discovery, addr, peer-addr, bind-addr) run through the
/// real agent (`coreos-agent coreos-cloudinit --root`), and its drop-in's environment given to Debian's etcd 3.4,
/// which no longer reads etcd 0.4's variables: the settings must still take effect. Loopback only.
final class EtcdDropInEndToEndTests: XCTestCase {
    var directory: URL!
    var etcds: [HostEtcd] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-etcd-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        etcds.removeAll()
        try? FileManager.default.removeItem(at: directory)
    }

    static var agent: URL {
        let release = CoreSDKRunner.packageRoot.appendingPathComponent(".build/release/coreos-agent")
        if FileManager.default.isExecutableFile(atPath: release.path) { return release }
        return CoreSDKRunner.packageRoot.appendingPathComponent(".build/debug/coreos-agent")
    }

    func etcdctl(_ arguments: [String], v2: Bool = false) throws -> String {
        try HostEtcd.etcdctl(arguments, v2: v2)
    }

    func testTheArticlesEtcdSettingsTakeEffectWithEtcd34() throws {
        let clientPort = try BootedMachine.freePort(), peerPort = try BootedMachine.freePort()
        // The discovery service: a separate etcd, as the article's discovery.etcd.io.
        let (discoveryEtcd, discovery, _) = try HostEtcd.discovery(in: directory)
        etcds.append(discoveryEtcd)
        _ = try etcdctl(["--endpoints", discovery, "set", "/discovery/e2e/_config/size", "1"], v2: true)

        let config = directory.appendingPathComponent("cloud-config.yml")
        try """
            #cloud-config
            coreos:
              etcd:
                name: coreos1
                discovery: \(discovery)/v2/keys/discovery/e2e
                addr: 127.0.0.1:\(clientPort)
                peer-addr: 127.0.0.1:\(peerPort)
                bind-addr: 127.0.0.1

            """.write(to: config, atomically: true, encoding: .utf8)
        let root = directory.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try CoreSDKRunner.run([Self.agent.path, "coreos-cloudinit", "--from-file", config.path, "--root", root.path])
        let dropIn = try String(contentsOf: root.appendingPathComponent("run/systemd/system/etcd.service.d/20-cloudinit.conf"),
                                encoding: .utf8)
        // systemd's reading of `Environment="KEY=value"`, for the lines the agent writes.
        var environment: [String: String] = [:]
        for line in dropIn.split(separator: "\n") where line.hasPrefix("Environment=\"") && line.hasSuffix("\"") {
            let pair = line.dropFirst("Environment=\"".count).dropLast()
            let equals = try XCTUnwrap(pair.firstIndex(of: "="))
            environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        XCTAssertEqual(environment["ETCD_NAME"], "coreos1", "the article's own lines are kept")
        XCTAssertEqual(environment["ETCD_ADDR"], "127.0.0.1:\(clientPort)")

        etcds.append(try HostEtcd("coreos1", environment: environment, in: directory))
        let client = "http://127.0.0.1:\(clientPort)"
        let members = try etcdctl(["--endpoints", client, "member", "list", "-w", "json"])
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(members.utf8)) as? [String: Any])
        let member = try XCTUnwrap((list["members"] as? [[String: Any]])?.first)
        XCTAssertEqual(member["name"] as? String, "coreos1", "name")
        XCTAssertEqual(member["peerURLs"] as? [String], ["http://127.0.0.1:\(peerPort)"], "peer-addr")
        XCTAssertEqual(member["clientURLs"] as? [String], [client], "addr")
        // The article's commands, v2 API: set prints the value, get reads it back.
        XCTAssertEqual(try etcdctl(["--endpoints", client, "set", "/message", "Hello"], v2: true), "Hello")
        XCTAssertEqual(try etcdctl(["--endpoints", client, "get", "/message"], v2: true), "Hello")
        // It joined through the discovery service: its member entry is there.
        let registered = try etcdctl(["--endpoints", discovery, "ls", "/discovery/e2e"], v2: true)
        XCTAssertTrue(registered.contains("/discovery/e2e/"), registered)
    }
}
