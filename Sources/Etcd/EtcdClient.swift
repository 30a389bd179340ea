import Codecs
import HTTPFetch
import JSON

/// etcd's v3 API through its JSON gateway (etcd 3.4: `POST /v3/...`; keys and values travel as
/// base64, int64 fields as JSON strings). Each call tries the endpoints in order and moves on only
/// when one cannot be reached, as etcd's own clients fail over.
public struct EtcdClient: Sendable {
    /// Client URLs, e.g. `http://127.0.0.1:2379`.
    public var endpoints: [String]
    public var fetcher: HTTPFetcher
    /// The largest response read, which bounds what a `get` may return.
    public var maxResponseSize = 4 << 20

    public init(endpoints: [String], fetcher: HTTPFetcher = HTTPFetcher()) {
        self.endpoints = endpoints
        self.fetcher = fetcher
    }

    /// The value stored at `key` and the revision that last modified it; nil when there is none.
    public func get(_ key: String) throws(EtcdError) -> (value: [UInt8], modRevision: Int64)? {
        let (answer, url) = try call("/v3/kv/range", ["key": encode(key)])
        guard let pair = answer["kvs"]?[0] else { return nil }
        guard let value = Base64.decode(Array((pair["value"]?.stringValue ?? "").utf8)), let revision = int64(pair["mod_revision"]) else {
            throw .malformedResponse(url: url, reason: "a key-value pair without a base64 value and mod_revision")
        }
        return (value, revision)
    }

    /// Stores `value` at `key`, attached to `lease` when given; the store's new revision.
    @discardableResult
    public func put(_ key: String, value: [UInt8], lease: Int64? = nil) throws(EtcdError) -> Int64 {
        let (answer, _) = try call("/v3/kv/put", putRequest(key, value: value, lease: lease))
        return int64(answer["header"]?["revision"]) ?? 0
    }

    /// Deletes `key`; whether there was one.
    @discardableResult
    public func delete(_ key: String) throws(EtcdError) -> Bool {
        let (answer, _) = try call("/v3/kv/deleterange", ["key": encode(key)])
        return (int64(answer["deleted"]) ?? 0) > 0
    }

    /// Stores `newValue` only if `key` was last modified at `expectedModRevision` (0: only if it
    /// does not exist), in one transaction; whether it was stored. Of several racers that read the
    /// same revision, exactly one wins.
    public func compareAndSwap(_ key: String, expectedModRevision: Int64, newValue: [UInt8], lease: Int64? = nil) throws(EtcdError) -> Bool {
        // A key that does not exist has create_revision 0; one that does has a non-zero one.
        let compare: JSONValue = expectedModRevision == 0
            ? ["key": encode(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"]
            : ["key": encode(key), "result": "EQUAL", "target": "MOD", "mod_revision": .string(String(expectedModRevision))]
        let (answer, _) = try call("/v3/kv/txn", [
            "compare": [compare],
            "success": [["request_put": putRequest(key, value: newValue, lease: lease)]],
        ])
        // proto3 JSON leaves out false.
        return answer["succeeded"]?.boolValue ?? false
    }

    /// A new lease that expires `ttl` seconds after its last keepalive; its ID.
    public func grantLease(ttl: Int) throws(EtcdError) -> Int64 {
        let (answer, url) = try call("/v3/lease/grant", ["TTL": .string(String(ttl))])
        guard let id = int64(answer["ID"]), id != 0 else { throw .malformedResponse(url: url, reason: "no lease ID") }
        return id
    }

    /// Renews `lease` for its full TTL; the TTL in seconds. Throws `leaseNotFound` once it expired.
    @discardableResult
    public func keepAlive(_ lease: Int64) throws(EtcdError) -> Int {
        // A streaming call: the gateway answers each request object with `{"result": {...}}`.
        let (answer, _) = try call("/v3/lease/keepalive", ["ID": .string(String(lease))])
        guard let ttl = int64(answer["result"]?["TTL"]), ttl > 0 else { throw .leaseNotFound(lease) }
        return Int(ttl)
    }

    /// Ends `lease` now, deleting the keys attached to it.
    public func revoke(_ lease: Int64) throws(EtcdError) {
        _ = try call("/v3/lease/revoke", ["ID": .string(String(lease))])
    }

    /// The server's version (e.g. `3.4.23`), which answers only when the member is up.
    public func version() throws(EtcdError) -> String {
        let (answer, url) = try call("/v3/maintenance/status", [:])
        guard let version = answer["version"]?.stringValue else { throw .malformedResponse(url: url, reason: "no version") }
        return version
    }

    private func putRequest(_ key: String, value: [UInt8], lease: Int64?) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("key", encode(key)), ("value", .string(Base64.encode(value)))]
        if let lease { members.append(("lease", .string(String(lease)))) }
        return .object(members)
    }

    private func encode(_ key: String) -> JSONValue { .string(Base64.encode(Array(key.utf8))) }

    /// int64 fields arrive as strings ("5"); a field left out is 0.
    private func int64(_ value: JSONValue?) -> Int64? {
        guard let value else { return 0 }
        return value.stringValue.flatMap { Int64($0) } ?? value.int64Value
    }

    /// POSTs `body` to `path` at the first endpoint that answers; the JSON answer and its URL.
    private func call(_ path: String, _ body: JSONValue) throws(EtcdError) -> (JSONValue, String) {
        var failures: [HTTPError] = []
        for endpoint in endpoints {
            let url = (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + path
            let request = HTTPRequest(method: "POST", url: url, headers: [("Content-Type", "application/json")], body: body.serializedBytes)
            let response: HTTPResponse
            do {
                response = try fetcher.send(request, maxBodySize: maxResponseSize)
            } catch {
                guard error.isTransient else { throw .transport(error) }
                failures.append(error)
                continue
            }
            let answer = try? JSONValue(parsing: response.body)
            guard response.status == 200 else {
                let message = answer?["message"]?.stringValue ?? answer?["error"]?.stringValue ?? String(decoding: response.body.prefix(200), as: UTF8.self)
                throw .server(url: url, status: response.status, message: message)
            }
            guard let answer, answer.objectValue != nil else { throw .malformedResponse(url: url, reason: "not a JSON object") }
            return (answer, url)
        }
        throw .unavailable(failures)
    }
}
