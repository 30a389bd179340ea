import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Support

/// The JSON API from the other side: what `coresdk updates` calls.
public struct UpdateServerClient: Sendable {
    public let base: URL

    public init(server: String) throws {
        guard let url = URL(string: server.hasSuffix("/") ? server : server + "/"), let scheme = url.scheme,
              ["http", "https"].contains(scheme), url.host != nil else {
            throw SupportError(key: "--server", "'\(server)' is not an http:// or https:// URL")
        }
        base = url
    }

    public func channels() async throws -> [Channel] { try await call("GET", "api/channels") }

    public func createChannel(name: String, publicKey: String) async throws -> Channel {
        try await call("POST", "api/channels", json: try JSONEncoder().encode(NewChannel(name: name, publicKey: publicKey)))
    }

    public func publish(_ payload: URL, to channel: String, name: String?, version: String?) async throws -> PublishedPayload {
        var query = [URLQueryItem(name: "name", value: name ?? payload.lastPathComponent)]
        if let version { query.append(URLQueryItem(name: "version", value: version)) }
        return try await call("POST", "api/channels/\(try Self.segment(channel))/payloads", query: query, file: payload)
    }

    public func groups() async throws -> [UpdateGroup] { try await call("GET", "api/groups") }

    public func setGroup(_ name: String, channel: String, policy: RolloutPolicy) async throws -> UpdateGroup {
        try await call("PUT", "api/groups/\(try Self.segment(name))",
                       json: try JSONEncoder().encode(GroupSettings(channel: channel, maxUpdates: policy.maxUpdates,
                                                                    periodSeconds: policy.periodSeconds,
                                                                    updateTimeoutSeconds: policy.updateTimeoutSeconds)))
    }

    public func setPaused(_ name: String, _ paused: Bool) async throws -> UpdateGroup {
        try await call("POST", "api/groups/\(try Self.segment(name))/\(paused ? "pause" : "resume")")
    }

    public func instances(group: String?) async throws -> [Instance] {
        try await call("GET", "api/instances", query: group.map { [URLQueryItem(name: "group", value: $0)] } ?? [])
    }

    public func events(machineID: String?, limit: Int) async throws -> [RecordedEvent] {
        var query = [URLQueryItem(name: "limit", value: String(limit))]
        if let machineID { query.append(URLQueryItem(name: "machine", value: machineID)) }
        return try await call("GET", "api/events", query: query)
    }

    // MARK: transport

    private static func segment(_ name: String) throws -> String {
        guard PayloadLibrary.isPlainName(name) else {
            throw SupportError("'\(name)' is not a channel or group name (letters, digits, '.', '_', '-')")
        }
        return name
    }

    private func call<T: Decodable>(_ method: String, _ path: String, query: [URLQueryItem] = [],
                                    json: Data? = nil, file: URL? = nil) async throws -> T {
        var components = URLComponents(url: base.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        var request = URLRequest(url: components.url!)
        request.httpMethod = method
        request.timeoutInterval = file == nil ? 60 : 3600
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = json
        }
        let (data, response) = try await send(request, file: file)
        guard let http = response as? HTTPURLResponse else { throw SupportError("\(base): no HTTP answer") }
        guard (200..<300).contains(http.statusCode) else {
            let message = (try? JSONDecoder().decode(APIErrorBody.self, from: data))?.error.message
                ?? String(decoding: data.prefix(500), as: UTF8.self)
            throw SupportError("\(base) refused \(method) /\(path) (HTTP \(http.statusCode)): \(message)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw SupportError("\(base) answered /\(path) with JSON this coresdk does not read: \(error)")
        }
    }

    /// URLSession's completion-handler calls, which every Foundation on Linux has.
    private func send(_ request: URLRequest, file: URL?) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            let handler: @Sendable (Data?, URLResponse?, Error?) -> Void = { data, response, error in
                if let response, error == nil {
                    continuation.resume(returning: (data ?? Data(), response))
                } else {
                    let reason = error?.localizedDescription ?? "no answer"
                    continuation.resume(throwing: SupportError("cannot reach the update server at \(base): \(reason)"))
                }
            }
            let task = if let file {
                URLSession.shared.uploadTask(with: request, fromFile: file, completionHandler: handler)
            } else {
                URLSession.shared.dataTask(with: request, completionHandler: handler)
            }
            task.resume()
        }
    }
}
