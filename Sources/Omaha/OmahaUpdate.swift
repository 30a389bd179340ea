/// One `<package>` of an update: the payload, or an extra file such as an OEM sysext that
/// flatcar-postinst fetches from the stored response (payload doc §5.4).
public struct OmahaPackage: Sendable, Hashable {
    public var name: String
    /// Exactly the file's size: update_engine refuses anything else (error 11).
    public var size: UInt64
    /// `hash`: standard base64 of the file's SHA-1 (28 characters). update_engine ignores it; ue-rs checks it.
    public var sha1Base64: String?
    /// `hash_sha256`: hex SHA-256, as Nebraska stores it and ue-rs parses it.
    public var sha256Hex: String?
    public var isRequired: Bool

    public init(name: String, size: UInt64, sha1Base64: String? = nil, sha256Hex: String? = nil, isRequired: Bool = true) {
        self.name = name
        self.size = size
        self.sha1Base64 = sha1Base64
        self.sha256Hex = sha256Hex
        self.isRequired = isRequired
    }
}

/// What an `<updatecheck status="ok">` offers: where the payload is, what it is, and the
/// postinstall action's hash update_engine verifies the whole file against.
public struct OmahaUpdate: Sendable, Hashable {
    /// Each ends with `/`: CoreOS update_engine appends the package name blindly, and ue-rs resolves
    /// the name against it (payload doc §5.4). A missing `/` is added.
    public var codebases: [String] { didSet { codebases = Self.withTrailingSlash(codebases) } }
    /// `manifest@version`, shown to users only: the client never compares versions.
    public var version: String
    /// The payload. update_engine reads only the first package.
    public var package: OmahaPackage
    /// Further packages (sysexts), after the payload.
    public var extraPackages: [OmahaPackage]
    /// `action@sha256`: standard base64 of the SHA-256 of the whole payload file (44 characters),
    /// string-compared by update_engine (error 10 on mismatch).
    public var sha256Base64: String
    /// `updatecheck@PollInterval` in seconds; clients clamp it to 2700…14400 (update-agent.md §1.4).
    public var pollInterval: Int?
    /// Without it one bad payload can park a client for up to 16 days, so servers should set it.
    public var disablePayloadBackoff: Bool
    public var isDeltaPayload: Bool

    public init(codebases: [String], version: String, package: OmahaPackage, extraPackages: [OmahaPackage] = [],
                sha256Base64: String, pollInterval: Int? = nil, disablePayloadBackoff: Bool = true,
                isDeltaPayload: Bool = false) {
        self.codebases = Self.withTrailingSlash(codebases)
        self.version = version
        self.package = package
        self.extraPackages = extraPackages
        self.sha256Base64 = sha256Base64
        self.pollInterval = pollInterval
        self.disablePayloadBackoff = disablePayloadBackoff
        self.isDeltaPayload = isDeltaPayload
    }

    /// Where to download the payload from, in the order to try: each codebase plus the package name.
    public var payloadURLs: [String] { codebases.map { $0 + package.name } }

    private static func withTrailingSlash(_ codebases: [String]) -> [String] {
        codebases.map { $0.hasSuffix("/") ? $0 : $0 + "/" }
    }
}

// MARK: Reading

extension OmahaUpdate {
    /// The children of `<updatecheck status="ok">`, checked as update_engine checks them
    /// (flatcar/update_engine:src/update_engine/omaha_request_action.cc ParseResponse): at least one
    /// url, every codebase non-empty; a manifest; a first package with a name and a size above 0;
    /// a postinstall action with a sha256. Anything short of that is its error 34. The extra packages
    /// are held to the package rules too: flatcar-postinst hands them to ue-rs, which needs both.
    init(_ updateCheck: XMLElement, at path: String) throws(OmahaError) {
        let codebases = try updateCheck.child("urls")?.mapChildren("url", at: "\(path)/urls") { url, path throws(OmahaError) in
            try url.requiredText("codebase", at: path)
        } ?? []
        guard !codebases.isEmpty else { throw OmahaError(.invalidContent, "\(path) has no urls/url") }
        guard let manifest = updateCheck.child("manifest") else { throw OmahaError(.invalidContent, "\(path) has no manifest") }
        let packages = try manifest.child("packages")?.mapChildren("package", at: "\(path)/manifest/packages") {
            package, path throws(OmahaError) in try OmahaPackage(package, at: path)
        } ?? []
        guard let payload = packages.first else { throw OmahaError(.invalidContent, "\(path)/manifest has no packages/package") }
        guard let postinstall = manifest.child("actions")?.children("action").first(where: { $0[attribute: "event"] == "postinstall" }) else {
            throw OmahaError(.invalidContent, "\(path)/manifest has no postinstall action")
        }
        // update_engine reads PollInterval with a lenient integer parse and ignores 0; refusing an
        // update over it would be stricter than every client.
        let pollInterval = updateCheck[attribute: "PollInterval"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        self.init(codebases: codebases, version: manifest[attribute: "version"] ?? "", package: payload,
                  extraPackages: Array(packages.dropFirst()),
                  sha256Base64: try postinstall.requiredText("sha256", at: "\(path)/manifest/actions/action[@event=postinstall]"),
                  pollInterval: pollInterval,
                  disablePayloadBackoff: postinstall[attribute: "DisablePayloadBackoff"] == "true",
                  isDeltaPayload: postinstall[attribute: "IsDeltaPayload"] == "true")
    }
}

extension OmahaPackage {
    init(_ element: XMLElement, at path: String) throws(OmahaError) {
        let size = element[attribute: "size"] ?? ""
        guard size.first != "+", let bytes = UInt64(size), bytes > 0 else {
            throw OmahaError(.invalidContent, "\(path)@size is \"\(size)\", not a size above 0")
        }
        self.init(name: try element.requiredText("name", at: path), size: bytes, sha1Base64: element[attribute: "hash"],
                  sha256Hex: element[attribute: "hash_sha256"], isRequired: element[attribute: "required"] == "true")
    }
}

// MARK: Writing

extension OmahaUpdate {
    /// Nebraska's layout (payload doc §5.4): urls, then the manifest with packages and one action.
    var element: XMLElement {
        let packages = [package] + extraPackages
        let action = XMLElement("action", optional: [
            ("event", "postinstall"), ("sha256", sha256Base64),
            ("DisablePayloadBackoff", disablePayloadBackoff ? "true" : nil), ("IsDeltaPayload", isDeltaPayload ? "true" : nil),
        ])
        return XMLElement("updatecheck", optional: [("status", OmahaStatus.ok), ("PollInterval", pollInterval.map { String($0) })], children: [
            XMLElement("urls", children: codebases.map { XMLElement("url", ["codebase": $0]) }),
            XMLElement("manifest", ["version": version], children: [
                XMLElement("packages", children: packages.map(\.element)),
                XMLElement("actions", children: [action]),
            ]),
        ])
    }
}

extension OmahaPackage {
    var element: XMLElement {
        XMLElement("package", optional: [("name", name), ("hash", sha1Base64), ("hash_sha256", sha256Hex),
                                          ("size", String(size)), ("required", isRequired ? "true" : "false")])
    }
}
