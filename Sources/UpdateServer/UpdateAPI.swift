import Foundation
import Hummingbird
import Payload
import PayloadGeneration
import Support

/// The JSON API under `/api/`: what `coresdk updates` sends, and what a script can send as well.
/// Every answer is JSON; a refusal is `{"error": {"message": …}}` with a 4xx status, as coresdk's
/// own `--json` errors are.
struct UpdateAPI: Sendable {
    let server: UpdateServer

    /// Payloads are streamed to disk; this only stops a runaway upload from filling it.
    static let maxPayload: Int64 = 8 << 30

    func add(to api: RouterGroup<UpdateRequestContext>) {
        let store = server.store
        api.get("channels") { _, _ in try await respond { try await store.channels() } }
        api.post("channels") { request, context in
            try await respond(.created) {
                let new = try await request.decode(as: NewChannel.self, context: context)
                try Self.checkName(new.name, of: "channel")
                // Refused now rather than at the first publish.
                _ = try PayloadPublicKey(pem: new.publicKey, origin: "the public key of channel \(new.name)")
                let channel = Channel(name: new.name, publicKey: new.publicKey)
                try await store.createChannel(channel)
                return channel
            }
        }
        api.post("channels/:name/payloads") { request, context in
            try await respond(.created) { try await publish(request, context) }
        }
        api.get("groups") { _, _ in try await respond { try await store.groups() } }
        api.put("groups/:name") { request, context in
            try await respond {
                let name = try context.parameters.require("name")
                try Self.checkName(name, of: "group")
                let settings = try await request.decode(as: GroupSettings.self, context: context)
                let policy = try settings.policy()
                try await store.putGroup(UpdateGroup(name: name, channel: settings.channel, policy: policy))
                return try await store.group(name)
            }
        }
        for (action, paused) in [("pause", true), ("resume", false)] {
            api.post(RouterPath("groups/:name/\(action)")) { _, context in
                try await respond { try await store.setPaused(try context.parameters.require("name"), paused) }
            }
        }
        api.get("instances") { request, _ in
            try await respond { try await store.instances(group: request.uri.queryParameters["group"].map(String.init)) }
        }
        api.get("events") { request, _ in
            try await respond {
                let query = request.uri.queryParameters
                guard let limit = Int(query["limit"].map(String.init) ?? "1000"), (1...100_000).contains(limit) else {
                    throw UpdateServerError.badRequest("limit must be a number from 1 to 100000")
                }
                return try await store.events(machineID: query["machine"].map(String.init), limit: limit)
            }
        }
    }

    /// The request body is the payload file; `?name=` is its file name on the server (default
    /// coreos_production_update.gz) and `?version=` overrides the version the payload carries.
    private func publish(_ request: Request, _ context: UpdateRequestContext) async throws -> PublishedPayload {
        let name = try context.parameters.require("name")
        guard let channel = try await server.store.channel(name) else { throw UpdateServerError.notFound("no channel \(name)") }
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > Self.maxPayload {
            throw UpdateServerError.tooLarge("a payload is at most \(Self.maxPayload) bytes")
        }
        let query = request.uri.queryParameters
        let upload = server.library.incomingFile()
        let received = ByteCount()
        let limited = request.body.map { buffer in
            // A body without Content-Length is counted as it arrives.
            guard received.add(buffer.readableBytes) <= Self.maxPayload else {
                throw UpdateServerError.tooLarge("a payload is at most \(Self.maxPayload) bytes")
            }
            return buffer
        }
        do {
            try await FileIO().writeFile(contents: limited, path: upload.path, context: context)
        } catch {
            try? FileManager.default.removeItem(at: upload)
            if let refusal = error as? UpdateServerError { throw refusal }
            throw UpdateServerError.badRequest("the upload did not complete: \(error)")
        }
        let library = server.library, now = server.clock()
        let fileName = query["name"].map(String.init) ?? "coreos_production_update.gz"
        let version = query["version"].map(String.init)
        // Verification reads the whole payload: off the server's request threads.
        let published = try await Task.detached {
            try library.admit(upload, name: fileName, version: version, channel: channel, now: now)
        }.value
        try await server.store.publish(published, to: name)
        return published
    }

    static func checkName(_ name: String, of what: String) throws {
        guard PayloadLibrary.isPlainName(name), name.count <= 64 else {
            throw UpdateServerError.badRequest("\(what) name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-'")
        }
    }
}

/// Bytes of an upload so far.
private final class ByteCount: @unchecked Sendable {
    private let lock = NSLock()
    private var total: Int64 = 0

    func add(_ bytes: Int) -> Int64 { lock.withLock { total += Int64(bytes); return total } }
}

/// `POST /api/channels`.
struct NewChannel: Codable, Sendable {
    var name: String
    var publicKey: String
}

/// `PUT /api/groups/<name>`: the channel, and the rollout policy (no `maxUpdates`: unlimited).
struct GroupSettings: Codable, Sendable {
    var channel: String
    var maxUpdates: Int64?
    var periodSeconds: Int64?
    var updateTimeoutSeconds: Int64?

    func policy() throws -> RolloutPolicy {
        let defaults = RolloutPolicy.unlimited
        let policy = RolloutPolicy(maxUpdates: maxUpdates, periodSeconds: periodSeconds ?? defaults.periodSeconds,
                                   updateTimeoutSeconds: updateTimeoutSeconds ?? defaults.updateTimeoutSeconds)
        if let limit = policy.maxUpdates, limit < 1 {
            throw UpdateServerError.badRequest("maxUpdates must be at least 1 (leave it out for no limit)")
        }
        guard policy.periodSeconds > 0, policy.updateTimeoutSeconds > 0 else {
            throw UpdateServerError.badRequest("periodSeconds and updateTimeoutSeconds must be positive")
        }
        return policy
    }
}

/// The error body of every refused API request.
struct APIErrorBody: Codable {
    struct Message: Codable { var message: String }
    var error: Message
}

/// Runs an API handler and turns its result or refusal into a JSON response.
func respond<T: Encodable>(_ status: HTTPResponse.Status = .ok, _ body: () async throws -> T) async throws -> Response {
    do {
        return try jsonResponse(await body(), status: status)
    } catch let error as UpdateServerError {
        return try jsonResponse(APIErrorBody(error: .init(message: error.description)),
                                status: HTTPResponse.Status(code: error.httpStatus))
    } catch let error as DecodingError {
        return try jsonResponse(APIErrorBody(error: .init(message: "the request body is not the JSON expected: \(error)")),
                                status: .badRequest)
    } catch let error as HTTPError {
        return try jsonResponse(APIErrorBody(error: .init(message: error.body ?? "\(error.status)")), status: error.status)
    } catch let error as ReportableError {
        // Payload and key errors: what the client sent is at fault.
        return try jsonResponse(APIErrorBody(error: .init(message: error.details.message)), status: .badRequest)
    } catch {
        return try jsonResponse(APIErrorBody(error: .init(message: "the server failed: \(error)")), status: .internalServerError)
    }
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    var data = try encoder.encode(value)
    data.append(0x0A)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
