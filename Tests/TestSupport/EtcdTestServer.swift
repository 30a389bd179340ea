import Etcd
import Foundation
import HTTPFetch

/// A real etcd (Debian's /usr/bin/etcd, 3.4) for one test: a single member on free ports of
/// 127.0.0.1 over a scratch data directory, started as a user would and stopped with SIGTERM.
public final class EtcdTestServer {
    public let scratch: Scratch
    let process = Process()
    public let endpoint: String

    public init() throws {
        scratch = try Scratch()
        let client = "http://127.0.0.1:\(try freePort())", peer = "http://127.0.0.1:\(try freePort())"
        endpoint = client
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", "test", "--data-dir", scratch.path("data").path,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "test=\(peer)",
        ]
        let log = scratch.path("etcd.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Up when it answers a status request; 60 s only bounds a member that never comes up.
        let probe = EtcdClient(endpoints: [endpoint], fetcher: HTTPFetcher(connectTimeout: 2, lowSpeedLimit: (1, 5)))
        for _ in 0..<600 {
            if (try? probe.version()) != nil { return }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.terminate()
        throw EtcdStartError(log: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    struct EtcdStartError: Error, CustomStringConvertible {
        let log: String
        var description: String { "etcd did not come up:\n\(log.suffix(3000))" }
    }

    public func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
