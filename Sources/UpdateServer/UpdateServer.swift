import Database
import Foundation
import Hummingbird
import Logging
import Omaha

/// The request context: Hummingbird's, plus the client's address, which the server records for
/// each machine.
public struct UpdateRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let clientAddress: String?
    /// Payload uploads are streamed to a file; only JSON bodies are decoded in memory.
    public var maxUploadSize: Int { 1 << 20 }

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// `coresdk serve`: Omaha at `POST /v1/update/`, payloads at `GET /payloads/<sha256>/<name>`, and
/// the JSON API under `/api/` that `coresdk updates` drives.
public struct UpdateServer: Sendable {
    /// update_engine's request is a few hundred bytes; Nebraska caps it at 64 KiB.
    public static let maxOmahaRequest = 64 * 1024
    public static let defaultAppIDs: Set<String> = ["e96281a6-d1af-4bde-9a0a-97b76e56dc57"]

    public let store: UpdateStore
    public let library: PayloadLibrary
    /// App ids answered, lowercase without braces; any other gets `error-unknownApplication`.
    public let appIDs: Set<String>
    /// Where machines download payloads from, ending in "/"; without it, the address each machine
    /// reached the server at (its Host header, as go-omaha does), which is right unless a proxy
    /// or TLS terminator stands in between.
    public let publicURL: String?
    public let clock: @Sendable () -> Int64
    let logger: Logger

    public init(store: UpdateStore, library: PayloadLibrary, appIDs: Set<String> = Self.defaultAppIDs,
                publicURL: String? = nil, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) {
        self.store = store
        self.library = library
        self.appIDs = Set(appIDs.map { OmahaRequest.App.normalized(appID: $0) })
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        self.clock = clock
        var logger = Logger(label: "coresdk-serve")
        logger.logLevel = .notice
        self.logger = logger
    }

    /// The store a data directory implies: `updates.sqlite` in it, or PostgreSQL at `databaseURL`.
    public static func openStore(dataDirectory: URL, databaseURL: String?) async throws -> UpdateStore {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let database: any SQLDatabase = if let databaseURL {
            try await PostgresDatabase(url: databaseURL)
        } else {
            try SQLiteDatabase(path: dataDirectory.appendingPathComponent("updates.sqlite").path)
        }
        return try await UpdateStore(database: database)
    }

    public func router() -> Router<UpdateRequestContext> {
        let router = Router(context: UpdateRequestContext.self)
        // Hummingbird matches "/v1/update/" here too, as clients send both.
        router.post("/v1/update") { request, context in try await omaha(request, context) }
        router.get("/v1/update") { _, _ in
            Response(status: .methodNotAllowed, headers: [.allow: "POST"],
                     body: .init(byteBuffer: ByteBuffer(string: "Omaha requests are POSTed\n")))
        }
        router.get("/payloads/:sha256/:name") { request, context in try await payload(request, context, body: true) }
        router.head("/payloads/:sha256/:name") { request, context in try await payload(request, context, body: false) }
        UpdateAPI(server: self).add(to: router.group("api"))
        return router
    }

    /// Serves until SIGTERM or SIGINT; `onListening` gets the bound port (useful with port 0).
    public func run(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "coresdk"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        try await application.runService()
    }

    // MARK: Omaha

    /// Always HTTP 200 with an Omaha body once the request is Omaha at all: update_engine doubles
    /// its check interval on 500/503, so errors are statuses inside the XML.
    func omaha(_ request: Request, _ context: UpdateRequestContext) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: Self.maxOmahaRequest) } catch {
            return Self.text(.contentTooLarge, "an Omaha request is at most \(Self.maxOmahaRequest) bytes\n")
        }
        let parsed: OmahaRequest
        do { parsed = try OmahaRequest(parsing: Array(buffer: body)) } catch {
            return Self.text(.badRequest, "not an Omaha v3 request: \(error)\n")
        }
        let address = context.clientAddress ?? ""
        guard let base = publicURL ?? Self.base(fromHost: request.head.authority) else {
            return Self.text(.badRequest, "the Host header is missing or not a host name and port\n")
        }
        var apps: [OmahaResponse.App] = []
        for app in parsed.apps {
            apps.append(await answer(app, from: address, payloadBase: base))
        }
        let response = OmahaResponse(server: "coresdk", apps: apps)
        return Response(status: .ok, headers: [.contentType: "text/xml; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: response.serialized())))
    }

    func answer(_ app: OmahaRequest.App, from address: String, payloadBase: String) async -> OmahaResponse.App {
        func refuse(_ status: String) -> OmahaResponse.App { OmahaResponse.App(appID: app.normalizedAppID, status: status) }
        guard appIDs.contains(app.normalizedAppID) else { return refuse(OmahaStatus.unknownApplication) }
        guard Self.isPlausibleID(app.machineID) else { return refuse(Self.invalidMachineID) }
        guard !app.version.isEmpty, app.version.count <= 64 else { return refuse(OmahaStatus.invalidVersion) }
        let checkIn = CheckIn(machineID: app.machineID, version: app.version, group: app.track.isEmpty ? "stable" : app.track,
                              board: app.board, address: address, asksForUpdate: app.updateCheck, reports: app.events)
        let check: OmahaResponse.UpdateCheck
        do {
            check = switch try await store.checkIn(checkIn, now: clock()) {
            case .notAsked, .noUpdate: .noUpdate
            case .refused(let status): .error(status)
            case .update(let payload):
                .update(OmahaUpdate(codebases: [payloadBase + payload.directory], version: payload.version,
                                    package: OmahaPackage(name: payload.fileName, size: UInt64(payload.size),
                                                          sha1Base64: payload.sha1Base64, sha256Hex: payload.sha256Hex),
                                    sha256Base64: payload.sha256Base64))
            }
        } catch {
            logger.error("update check of \(app.machineID) failed: \(error)")
            check = .error(OmahaStatus.internalError)
        }
        return OmahaResponse.App(answering: app, updateCheck: check)
    }

    /// The app status for a request without a usable machine id.
    static let invalidMachineID = "error-invalidMachineID"

    /// Machine ids are /etc/machine-id's 32 hex digits; anything printable up to 128 characters is
    /// kept (simulators use other forms), nothing that could upset a log line or a terminal.
    static func isPlausibleID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && id.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }
    }

    // MARK: payloads

    func payload(_ request: Request, _ context: UpdateRequestContext, body: Bool) async throws -> Response {
        guard let sha = context.parameters.get("sha256"), let name = context.parameters.get("name"),
              let file = library.file(sha256Hex: sha, name: name),
              let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.intValue,
              size > 0  // only verified payloads are stored; an empty file is not one
        else { return Self.text(.notFound, "no such payload\n") }
        var headers: HTTPFields = [.acceptRanges: "bytes", .contentType: "application/octet-stream"]
        var range = 0...(size - 1)
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            guard let requested = ByteRange(header, size: size) else {
                return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(size)"])
            }
            range = requested.range
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
        }
        headers[.contentLength] = String(range.count)
        guard body else { return Response(status: status, headers: headers) }
        let contents = try await FileIO().loadFile(path: file.path, range: range, context: context)
        return Response(status: status, headers: headers, body: contents)
    }

    // MARK: helpers

    /// "http://<host>/" from a Host header that is a host name or address and an optional port.
    static func base(fromHost host: String?) -> String? {
        guard let host, !host.isEmpty, host.count <= 255,
              host.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || ".-:[]".unicodeScalars.contains($0)) })
        else { return nil }
        return "http://\(host)/"
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

/// One `Range: bytes=…` range (RFC 9110 §14.1.2) within a file of `size` bytes; several ranges
/// are not needed by update_engine and are refused like an unsatisfiable one.
struct ByteRange: Equatable {
    let range: ClosedRange<Int>

    init?(_ header: String, size: Int) {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            range = max(0, size - suffix)...(size - 1)
        } else {
            guard let start = Int(first), start >= 0, start < size else { return nil }
            if last.isEmpty {
                range = start...(size - 1)
            } else {
                guard let end = Int(last), end >= start else { return nil }
                range = start...min(end, size - 1)
            }
        }
    }
}
