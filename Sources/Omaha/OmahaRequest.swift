/// An Omaha v3 request as update_engine builds it (payload doc §5.2): what the in-image agent sends
/// and what the update server reads. Attributes a client leaves out read as "".
public struct OmahaRequest: Sendable, Hashable {
    /// `request@version` and `@updaterversion`: `update_engine-<version>`, the only client
    /// identification there is (no User-Agent; update-agent.md §1.2).
    public var version: String
    public var updaterVersion: String
    /// `scheduler` for periodic checks, `ondemandupdate` for interactive ones.
    public var installSource: String
    public var isMachine: Bool
    public var os: OS
    public var apps: [App]

    public static let protocolVersion = "3.0"

    public enum InstallSource {
        public static let scheduler = "scheduler"
        public static let onDemand = "ondemandupdate"
    }

    public init(version: String, updaterVersion: String? = nil, installSource: String = InstallSource.scheduler,
                isMachine: Bool = true, os: OS, apps: [App]) {
        self.version = version
        self.updaterVersion = updaterVersion ?? version
        self.installSource = installSource
        self.isMachine = isMachine
        self.os = os
        self.apps = apps
    }

    public struct OS: Sendable, Hashable {
        public var version: String
        public var platform: String
        /// `<app version>_<uname -m>`, e.g. `4000.0.0_x86_64`.
        public var servicePack: String

        /// update_engine's fixed values: `Chateau` and `CoreOS`, on Flatcar too.
        public init(version: String = "Chateau", platform: String = "CoreOS", servicePack: String) {
            self.version = version
            self.platform = platform
            self.servicePack = servicePack
        }
    }

    /// `<ping active="1">`: the machine is alive; it is the whole request while a reboot is pending.
    public struct Ping: Sendable, Hashable {
        public var isActive: Bool

        public init(isActive: Bool = true) { self.isActive = isActive }
    }

    public struct App: Sendable, Hashable {
        /// As sent: update_engine sends the ID in braces.
        public var appID: String
        public var version: String
        /// GROUP from update.conf: a channel name (stable, beta, alpha, …) or a group UUID.
        public var track: String
        /// `{` + /proc/sys/kernel/random/boot_id + `}`.
        public var bootID: String
        public var oem: String
        public var oemVersion: String
        /// The first version ever installed on the machine.
        public var alephVersion: String
        /// /etc/machine-id: 32 hex digits, no braces. Servers key instances by it.
        public var machineID: String
        public var machineAlias: String
        public var language: String
        public var board: String
        public var hardwareClass: String
        public var deltaOkay: Bool
        public var ping: Ping?
        public var updateCheck: Bool
        public var events: [OmahaEvent]

        /// FLATCAR_RELEASE_APPID's default, as update_engine sends it.
        public static let defaultAppID = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}"

        public init(appID: String = Self.defaultAppID, version: String, track: String = "stable", bootID: String = "",
                    oem: String = "", oemVersion: String = "", alephVersion: String = "", machineID: String,
                    machineAlias: String = "", language: String = "en-US", board: String, hardwareClass: String = "",
                    deltaOkay: Bool = false, ping: Ping? = nil, updateCheck: Bool = false, events: [OmahaEvent] = []) {
            self.appID = appID
            self.version = version
            self.track = track
            self.bootID = bootID
            self.oem = oem
            self.oemVersion = oemVersion
            self.alephVersion = alephVersion
            self.machineID = machineID
            self.machineAlias = machineAlias
            self.language = language
            self.board = board
            self.hardwareClass = hardwareClass
            self.deltaOkay = deltaOkay
            self.ping = ping
            self.updateCheck = updateCheck
            self.events = events
        }

        /// Lowercase without braces, as Nebraska stores app IDs and answers with them.
        public var normalizedAppID: String { Self.normalized(appID: appID) }

        public static func normalized(appID: String) -> String {
            var id = Substring(appID)
            if id.hasPrefix("{") && id.hasSuffix("}") && id.count >= 2 { id = id.dropFirst().dropLast() }
            return id.lowercased()
        }
    }
}

// MARK: Reading

extension OmahaRequest {
    /// Reads a request body. Only what a request must have is enforced (root `request`,
    /// protocol 3.0, an app, an appid on each, numbers where numbers belong); elements and attributes
    /// this model does not know are ignored, because clients differ in what else they send.
    public init(parsing bytes: some Sequence<UInt8>, limits: XMLLimits = .default) throws(OmahaError) {
        let root = try XMLElement.omahaRoot(of: bytes, limits: limits, named: "request", otherwise: .unsupportedProtocol)
        guard root[attribute: "protocol"] == Self.protocolVersion else {
            let found = root[attribute: "protocol"].map { "protocol \"\($0)\"" } ?? "no protocol"
            throw OmahaError(.unsupportedProtocol, "the request has \(found); only Omaha 3.0 is spoken")
        }
        let apps = try root.mapChildren("app", at: "request") { element, path throws(OmahaError) in try App(element, at: path) }
        guard !apps.isEmpty else { throw OmahaError(.invalidContent, "the request has no <app>") }
        let os = root.child("os")
        self.init(version: root[attribute: "version"] ?? "", updaterVersion: root[attribute: "updaterversion"] ?? "",
                  installSource: root[attribute: "installsource"] ?? "",
                  isMachine: try root.integer("ismachine", at: "request").map { $0 != 0 } ?? false,
                  os: OS(version: os?[attribute: "version"] ?? "", platform: os?[attribute: "platform"] ?? "",
                         servicePack: os?[attribute: "sp"] ?? ""),
                  apps: apps)
    }

    public init(parsing text: String, limits: XMLLimits = .default) throws(OmahaError) {
        try self.init(parsing: text.utf8, limits: limits)
    }
}

extension OmahaRequest.App {
    init(_ element: XMLElement, at path: String) throws(OmahaError) {
        guard let appID = element[attribute: "appid"], !appID.isEmpty else {
            throw OmahaError(.invalidAppID, "\(path) has no appid")
        }
        let events = try element.mapChildren("event", at: path) { event, path throws(OmahaError) in try OmahaEvent(event, at: path) }
        var ping: OmahaRequest.Ping?
        if let element = element.child("ping") {
            ping = OmahaRequest.Ping(isActive: try element.integer("active", at: "\(path)/ping").map { $0 != 0 } ?? false)
        }
        let text = { (name: String) in element[attribute: name] ?? "" }
        self.init(appID: appID, version: text("version"), track: text("track"), bootID: text("bootid"), oem: text("oem"),
                  oemVersion: text("oemversion"), alephVersion: text("alephversion"), machineID: text("machineid"),
                  machineAlias: text("machinealias"), language: text("lang"), board: text("board"),
                  hardwareClass: text("hardware_class"), deltaOkay: text("delta_okay") == "true", ping: ping,
                  updateCheck: element.child("updatecheck") != nil, events: events)
    }
}

// MARK: Writing

extension OmahaRequest {
    /// The document in update_engine's shape and attribute order (payload doc §5.2).
    public func serialized() -> String { element.serialized() }

    var element: XMLElement {
        XMLElement("request", ["protocol": Self.protocolVersion, "version": version, "updaterversion": updaterVersion,
                               "installsource": installSource, "ismachine": isMachine ? "1" : "0"],
                   children: [XMLElement("os", ["version": os.version, "platform": os.platform, "sp": os.servicePack])]
                       + apps.map(\.element))
    }
}

extension OmahaRequest.App {
    var element: XMLElement {
        var children: [XMLElement] = []
        if let ping { children.append(XMLElement("ping", ["active": ping.isActive ? "1" : "0"])) }
        if updateCheck { children.append(XMLElement("updatecheck")) }
        children += events.map(\.element)
        return XMLElement("app", ["appid": appID, "version": version, "track": track, "bootid": bootID, "oem": oem,
                                  "oemversion": oemVersion, "alephversion": alephVersion, "machineid": machineID,
                                  "machinealias": machineAlias, "lang": language, "board": board,
                                  "hardware_class": hardwareClass, "delta_okay": deltaOkay ? "true" : "false"],
                          children: children)
    }
}
