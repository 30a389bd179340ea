import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Omaha
import Payload
import PayloadGeneration
import TestSupport
import XCTest

/// `coresdk serve` as an operator runs it: the real binary, managed with `coresdk updates`, its
/// state surviving a restart and a kill -9, and two servers sharing one PostgreSQL keeping one
/// rollout limit between them.
final class UpdateServerEndToEndTests: XCTestCase {
    /// A running `coresdk serve`.
    final class Server: @unchecked Sendable {
        let process = Process()
        let output: URL
        private(set) var url = ""

        init(data: URL, extra: [String] = []) throws {
            output = data.deletingLastPathComponent().appendingPathComponent("serve-\(UUID().uuidString.prefix(6)).out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = CoreSDKRunner.binary
            process.arguments = ["serve", "--data", data.path, "--listen", "127.0.0.1:0", "--json"] + extra
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, process.isRunning {
                if let data = try? Data(contentsOf: output),
                   let listening = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let port = listening["port"] as? Int {
                    url = "http://127.0.0.1:\(port)"
                    return
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            process.terminate()
            throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "coresdk serve did not start listening"])
        }

        /// SIGTERM, as a service manager stops it; waits for the exit.
        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }

        /// SIGKILL: no chance to flush or close anything.
        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        deinit { stop() }

        /// `coresdk updates ARGUMENTS --server URL --json`, decoded.
        func updates(_ arguments: [String]) throws -> Any {
            let run = try CoreSDKRunner.run([CoreSDKRunner.binary.path, "updates"] + arguments + ["--server", url, "--json"])
            return try JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8))
        }

        /// An update check from `machine`, as update_engine sends it; the app's answer.
        func check(_ machine: String) throws -> OmahaResponse.App {
            let app = OmahaRequest.App(version: "1.2.3", machineID: machine, board: "amd64-usr", ping: OmahaRequest.Ping(),
                                       updateCheck: true, events: [.updateCheck(previousVersion: "")])
            let request = OmahaRequest(version: "update_engine-0.4.10", os: OmahaRequest.OS(servicePack: "1.2.3_x86_64"), apps: [app])
            let (data, status) = try Self.post(URL(string: url + "/v1/update/")!, body: Data(request.serialized().utf8))
            XCTAssertEqual(status, 200)
            return try XCTUnwrap(try OmahaResponse(parsing: [UInt8](data)).apps.first)
        }

        static func post(_ url: URL, body: Data) throws -> (Data, Int) {
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("text/xml", forHTTPHeaderField: "Content-Type")
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var result: (Data, Int)?
            URLSession.shared.dataTask(with: request) { data, response, _ in
                result = (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0)
                done.signal()
            }.resume()
            _ = done.wait(timeout: .now() + 60)
            return try XCTUnwrap(result)
        }
    }

    var scratch: URL!
    var publicKey: URL!
    var payload: URL!

    override func setUpWithError() throws {
        scratch = try CoreSDKRunner.scratchDirectory("coresdk-serve")
        let privateKey = scratch.appendingPathComponent("key.pem")
        publicKey = scratch.appendingPathComponent("key.pub.pem")
        try PayloadPrivateKey.generate(privateKey: privateKey, publicKey: publicKey)
        let partition = scratch.appendingPathComponent("usr.img")
        try Data((0..<16384).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: partition)
        payload = scratch.appendingPathComponent("coreos_production_update.gz")
        _ = try PayloadGenerator(partitionImage: partition,
                                 bootFiles: [(.osRelease, Array("ID=coreos\nVERSION_ID=1.2.4\n".utf8))], signatureCount: 1)
            .write(to: payload, signingKeys: [try PayloadPrivateKey(contentsOf: privateKey)])
    }

    /// Channel `stable` with the payload, group `stable` following it.
    func publish(on server: Server, groupOptions: [String] = []) throws {
        _ = try server.updates(["channel", "create", "stable", "--public-key", publicKey.path])
        let published = try server.updates(["publish", "stable", payload.path]) as? [String: Any]
        XCTAssertEqual(published?["version"] as? String, "1.2.4")
        _ = try server.updates(["group", "set", "stable", "--channel", "stable"] + groupOptions)
    }

    func statuses(_ server: Server) throws -> [String: String] {
        let instances = try XCTUnwrap(try server.updates(["instances"]) as? [[String: Any]])
        return Dictionary(instances.map { ($0["machineID"] as! String, $0["status"] as! String) }, uniquingKeysWith: { a, _ in a })
    }

    func testTheStateSurvivesARestartAndAKill9() throws {
        let data = scratch.appendingPathComponent("server")
        var server = try Server(data: data)
        try publish(on: server)
        guard case .update(let update) = try server.check("machine-1").updateCheck else { return XCTFail("machine-1 offered nothing") }
        server.stop()

        server = try Server(data: data)
        XCTAssertEqual(try statuses(server), ["machine-1": "update-granted"], "granted before the restart, granted after it")
        guard case .update = try server.check("machine-2").updateCheck else { return XCTFail("machine-2 offered nothing") }
        server.kill9()

        server = try Server(data: data)
        XCTAssertEqual(try statuses(server), ["machine-1": "update-granted", "machine-2": "update-granted"], "what was answered before the kill -9 is kept")
        let groups = try XCTUnwrap(try server.updates(["group", "list"]) as? [[String: Any]])
        XCTAssertEqual(groups.first?["status"] as? String, "active")
        // The payload is still served where the offer said.
        let location = URL(string: update.codebases[0] + update.package.name)!
        let downloaded = try Data(contentsOf: URL(string: server.url + location.path)!)
        XCTAssertEqual(downloaded, try Data(contentsOf: payload))
    }

    func testTwoServersOnOnePostgreSQLShareTheStateAndTheRolloutLimit() throws {
        let databaseURL = try PostgresTestCluster.shared.get().createDatabase()
        let data = scratch.appendingPathComponent("shared")
        let a = try Server(data: data, extra: ["--database", databaseURL])
        let b = try Server(data: data, extra: ["--database", databaseURL])
        try publish(on: a, groupOptions: ["--max-updates", "1", "--period", "1h"])

        // Twelve machines at once, half of them asking each server.
        nonisolated(unsafe) var granted = 0
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 12) { index in
            let server = index.isMultiple(of: 2) ? a : b
            if case .update = try? server.check("machine-\(index)").updateCheck { lock.withLock { granted += 1 } }
        }
        XCTAssertEqual(granted, 1, "at most one grant per period across both servers")
        let recorded = try statuses(b)
        XCTAssertEqual(recorded.count, 12, "every machine is recorded, whichever server it asked")
        XCTAssertEqual(recorded.values.filter { $0 == "update-granted" }.count, 1)
        XCTAssertEqual(recorded.values.filter { $0 == "on-hold" }.count, 11, "the others are on hold")

        a.kill9()
        let again = try Server(data: data, extra: ["--database", databaseURL])
        XCTAssertEqual(try statuses(again), recorded, "a killed server loses nothing")
    }
}
