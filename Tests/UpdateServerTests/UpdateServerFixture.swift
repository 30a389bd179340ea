import Database
import Foundation
import Hummingbird
import HummingbirdTesting
import Omaha
import Payload
import PayloadGeneration
import TestSupport
import UpdateServer
import XCTest

/// A server over a scratch data directory, with a signing key pair and a small signed payload of
/// version 1.2.4, talked to over real HTTP on 127.0.0.1 as machines and `coresdk updates` do.
final class UpdateServerFixture: @unchecked Sendable {
    let scratch: Scratch
    let server: UpdateServer
    let privateKey: URL, publicKey: URL
    let otherPrivateKey: URL
    let payload: URL
    /// The clock the server reads, moved by tests.
    let clock = TestClock()

    final class TestClock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int64 = 1_800_000_000
        var now: Int64 { lock.withLock { value } }
        func advance(_ seconds: Int64) { lock.withLock { value += seconds } }
    }

    init(database: (any SQLDatabase)? = nil) async throws {
        scratch = try Scratch()
        let data = scratch.path("server")
        let store = try await UpdateStore(database: database ?? SQLiteDatabase(path: scratch.path("updates.sqlite").path))
        let clock = clock
        server = UpdateServer(store: store, library: try PayloadLibrary(dataDirectory: data), clock: { clock.now })
        privateKey = scratch.path("key.pem")
        publicKey = scratch.path("key.pub.pem")
        otherPrivateKey = scratch.path("other.pem")
        try PayloadPrivateKey.generate(privateKey: privateKey, publicKey: publicKey)
        try PayloadPrivateKey.generate(privateKey: otherPrivateKey, publicKey: scratch.path("other.pub.pem"))
        payload = try Self.payload(version: "1.2.4", signedWith: privateKey, in: scratch)
    }

    /// Runs `body` with a server on SQLite, then with one on a fresh PostgreSQL database (Debian's,
    /// a throwaway cluster); a failure says which.
    static func forEachStore(file: StaticString = #filePath, line: UInt = #line,
                             _ body: (UpdateServerFixture) async throws -> Void) async {
        let stores: [(String, () async throws -> (any SQLDatabase)?)] = [
            ("SQLite", { nil }),
            ("PostgreSQL", { try await PostgresDatabase(url: try PostgresTestCluster.shared.get().createDatabase()) }),
        ]
        for (name, open) in stores {
            do {
                let fixture = try await UpdateServerFixture(database: try await open())
                do { try await body(fixture) } catch {
                    try? await fixture.server.store.database.close()
                    throw error
                }
                try await fixture.server.store.database.close()
            } catch {
                XCTFail("\(name): \(error)", file: file, line: line)
            }
        }
    }

    /// A payload of a 2-block /usr and an os-release saying `version`.
    static func payload(version: String, signedWith key: URL, in scratch: Scratch, name: String? = nil) throws -> URL {
        let partition = scratch.path("usr-\(version).img")
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 * 7) }).write(to: partition)
        let output = scratch.path(name ?? "coreos_production_update-\(version).gz")
        _ = try PayloadGenerator(partitionImage: partition,
                                 bootFiles: [(.kernel, Array("kernel \(version)".utf8)),
                                             (.osRelease, Array("ID=coreos\nVERSION_ID=\(version)\n".utf8))],
                                 signatureCount: 1)
            .write(to: output, signingKeys: [try PayloadPrivateKey(contentsOf: key)])
        return output
    }

    /// Runs `body` against the server listening on a free port of 127.0.0.1.
    func live<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let application = Application(router: server.router(),
                                      configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await application.test(.live, body)
    }
}

extension TestClientProtocol {
    /// A JSON API call; the decoded answer, or an XCTest failure with the body.
    func api<T: Decodable>(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil, body: Data? = nil,
                           expect status: HTTPResponse.Status = .ok, as type: T.Type = T.self,
                           file: StaticString = #filePath, line: UInt = #line) async throws -> T {
        let buffer = (json.map { Data($0.utf8) } ?? body).map { ByteBuffer(bytes: $0) }
        return try await execute(uri: uri, method: method, headers: json == nil ? [:] : [.contentType: "application/json"],
                                 body: buffer) { response in
            let text = String(buffer: response.body)
            XCTAssertEqual(response.status, status, text, file: file, line: line)
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        }
    }

    /// Makes channel `stable` with the fixture's key, publishes `payload` to it and points group
    /// `stable` at it (with `policy` as JSON fields).
    func setUpStable(_ fixture: UpdateServerFixture, payload: URL? = nil, policy: String = "") async throws -> PublishedPayload {
        let key = try String(contentsOf: fixture.publicKey, encoding: .utf8)
        let body = try JSONEncoder().encode(["name": "stable", "publicKey": key])
        let _: Channel = try await api(.post, "/api/channels", json: String(decoding: body, as: UTF8.self), expect: .created)
        let published: PublishedPayload = try await api(.post, "/api/channels/stable/payloads?name=coreos_production_update.gz",
                                                        body: try Data(contentsOf: payload ?? fixture.payload), expect: .created)
        let _: UpdateGroup = try await api(.put, "/api/groups/stable", json: #"{"channel": "stable"\#(policy)}"#)
        return published
    }

    /// An update check (with events) from machine `id` running `version`, as update_engine sends it.
    func check(_ id: String, version: String = "1.2.3", events: [OmahaEvent] = [.updateCheck(previousVersion: "")],
               asks: Bool = true, file: StaticString = #filePath, line: UInt = #line) async throws -> OmahaResponse.App {
        let app = OmahaRequest.App(version: version, track: "stable", machineID: id, board: "amd64-usr",
                                   ping: asks ? OmahaRequest.Ping() : nil, updateCheck: asks, events: events)
        let request = OmahaRequest(version: "update_engine-0.4.10", os: OmahaRequest.OS(servicePack: "\(version)_x86_64"), apps: [app])
        return try await execute(uri: "/v1/update/", method: .post, headers: [.contentType: "text/xml"],
                                 body: ByteBuffer(string: request.serialized())) { response in
            XCTAssertEqual(response.status, .ok, file: file, line: line)
            let parsed = try OmahaResponse(parsing: String(buffer: response.body))
            return try XCTUnwrap(parsed.apps.first, file: file, line: line)
        }
    }
}
