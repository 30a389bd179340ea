import Foundation

/// Debian's etcd 3.4 on the host's loopback: the article's discovery service (discovery.etcd.io),
/// or a member started with an agent-written environment. Stopped when released.
final class HostEtcd {
    let name: String
    private let process = Process()

    /// Starts `/usr/bin/etcd` with `environment` (ETCD_* settings), its data and log in `directory`.
    init(_ name: String, environment: [String: String], in directory: URL) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.environment = environment.merging(["ETCD_DATA_DIR": directory.appendingPathComponent(name).path]) { $1 }
        let log = directory.appendingPathComponent("\(name).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        try process.run()
    }

    /// A discovery service on free ports of 127.0.0.1, with the v2 API discovery uses.
    static func discovery(in directory: URL) throws -> (etcd: HostEtcd, url: String, port: Int) {
        let port = try BootedMachine.freePort(), peerPort = try BootedMachine.freePort()
        let url = "http://127.0.0.1:\(port)", peer = "http://127.0.0.1:\(peerPort)"
        let etcd = try HostEtcd("discovery", environment: [
            "ETCD_NAME": "discovery", "ETCD_ENABLE_V2": "true",
            "ETCD_LISTEN_CLIENT_URLS": url, "ETCD_ADVERTISE_CLIENT_URLS": url,
            "ETCD_LISTEN_PEER_URLS": peer, "ETCD_INITIAL_ADVERTISE_PEER_URLS": peer,
            "ETCD_INITIAL_CLUSTER": "discovery=\(peer)",
        ], in: directory)
        return (etcd, url, port)
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    /// The host's etcdctl, retried until it succeeds (the server may still be starting).
    static func etcdctl(_ arguments: [String], v2: Bool = false, timeout: TimeInterval = 60) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["ETCDCTL_API"] = v2 ? "2" : "3"
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        repeat {
            let run = try CoreSDKRunner.launch(["etcdctl"] + arguments, environment: environment)
            if run.status == 0 { return run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) }
            last = run.standardError
            Thread.sleep(forTimeInterval: 1)
        } while Date() < deadline
        throw NSError(domain: "etcd", code: 1, userInfo: [NSLocalizedDescriptionKey: "etcdctl \(arguments) failed: \(last)"])
    }
}
