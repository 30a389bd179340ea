/// An Omaha v3 response: what the update server writes and the in-image agent reads (payload doc §5.4).
public struct OmahaResponse: Sendable, Hashable {
    /// `response@server`, a name for logs.
    public var server: String
    /// `daystart@elapsed_seconds`: seconds since midnight at the server. Nebraska always sends 0.
    public var daystartElapsedSeconds: Int
    public var apps: [App]

    public init(server: String, daystartElapsedSeconds: Int = 0, apps: [App]) {
        self.server = server
        self.daystartElapsedSeconds = daystartElapsedSeconds
        self.apps = apps
    }

    /// The answer to an `<updatecheck>`.
    public enum UpdateCheck: Sendable, Hashable {
        case noUpdate
        case update(OmahaUpdate)
        /// Any other status, such as `error-internal`; update_engine treats it as error 34.
        case error(String)
    }

    public struct App: Sendable, Hashable {
        public var appID: String
        /// `ok`, or an error such as `error-unknownApplication` (`OmahaStatus`).
        public var status: String
        /// `<ping status="ok">`, owed for every request ping.
        public var pingAcknowledged: Bool
        /// How many `<event status="ok">` follow: one per request event.
        public var eventsAcknowledged: Int
        /// nil when the request had no `<updatecheck>`.
        public var updateCheck: UpdateCheck?

        public init(appID: String, status: String = OmahaStatus.ok, pingAcknowledged: Bool = false,
                    eventsAcknowledged: Int = 0, updateCheck: UpdateCheck? = nil) {
            self.appID = appID
            self.status = status
            self.pingAcknowledged = pingAcknowledged
            self.eventsAcknowledged = eventsAcknowledged
            self.updateCheck = updateCheck
        }

        /// The reply every server owes `app` whatever it decides (update-agent.md §4.3 item 3): the
        /// app ID as Nebraska writes it, the ping and each event acknowledged, and `decision`
        /// only if the client asked for an update check.
        public init(answering app: OmahaRequest.App, status: String = OmahaStatus.ok, updateCheck decision: UpdateCheck) {
            self.init(appID: app.normalizedAppID, status: status, pingAcknowledged: app.ping != nil,
                      eventsAcknowledged: app.events.count, updateCheck: app.updateCheck ? decision : nil)
        }
    }
}

// MARK: Reading

extension OmahaResponse {
    /// Reads a response body as update_engine does: the status decides, and with `ok` the offer must
    /// be complete (see `OmahaUpdate`). Attributes it does not read are ignored; a malformed number
    /// where it reads one leniently (daystart) is taken as 0.
    public init(parsing bytes: some Sequence<UInt8>, limits: XMLLimits = .default) throws(OmahaError) {
        let root = try XMLElement.omahaRoot(of: bytes, limits: limits, named: "response", otherwise: .invalidContent)
        self.init(server: root[attribute: "server"] ?? "",
                  daystartElapsedSeconds: root.child("daystart")?[attribute: "elapsed_seconds"].flatMap { Int($0) } ?? 0,
                  apps: try root.mapChildren("app", at: "response") { element, path throws(OmahaError) in try App(element, at: path) })
    }

    public init(parsing text: String, limits: XMLLimits = .default) throws(OmahaError) {
        try self.init(parsing: text.utf8, limits: limits)
    }
}

extension OmahaResponse.App {
    init(_ element: XMLElement, at path: String) throws(OmahaError) {
        var updateCheck: OmahaResponse.UpdateCheck?
        if let check = element.child("updatecheck") {
            let checkPath = "\(path)/updatecheck"
            switch check[attribute: "status"] {
            case nil: throw OmahaError(.invalidContent, "\(checkPath) has no status")
            case OmahaStatus.noUpdate: updateCheck = .noUpdate
            case OmahaStatus.ok: updateCheck = .update(try OmahaUpdate(check, at: checkPath))
            case let status?: updateCheck = .error(status)
            }
        }
        self.init(appID: element[attribute: "appid"] ?? "", status: element[attribute: "status"] ?? "",
                  pingAcknowledged: element.child("ping")?[attribute: "status"] == OmahaStatus.ok,
                  eventsAcknowledged: element.children("event").filter { $0[attribute: "status"] == OmahaStatus.ok }.count,
                  updateCheck: updateCheck)
    }
}

// MARK: Writing

extension OmahaResponse {
    /// The document in Nebraska's shape (payload doc §5.4).
    public func serialized() -> String {
        XMLElement("response", ["protocol": OmahaRequest.protocolVersion, "server": server], children: [
            XMLElement("daystart", ["elapsed_seconds": String(daystartElapsedSeconds)]),
        ] + apps.map(\.element)).serialized()
    }
}

extension OmahaResponse.App {
    /// Nebraska's child order: ping, updatecheck, events.
    var element: XMLElement {
        var children: [XMLElement] = []
        if pingAcknowledged { children.append(XMLElement("ping", ["status": OmahaStatus.ok])) }
        switch updateCheck {
        case nil: break
        case .noUpdate: children.append(XMLElement("updatecheck", ["status": OmahaStatus.noUpdate]))
        case .update(let update): children.append(update.element)
        case .error(let status): children.append(XMLElement("updatecheck", ["status": status]))
        }
        children += Array(repeating: XMLElement("event", ["status": OmahaStatus.ok]), count: max(0, eventsAcknowledged))
        return XMLElement("app", ["appid": appID, "status": status], children: children)
    }
}
