/// What an update server keeps, as Nebraska models it (spec update-agent.md §4.2, §7): channels
/// hold a signed payload and its version, groups point machines (by their `GROUP`, sent as the
/// Omaha `track`) at a channel under a rollout policy, and instances are the machines themselves.
/// These are also the shapes of the JSON API and of `--json` output.

/// A channel: the public key its payloads must verify with, and the payload published last.
public struct Channel: Codable, Sendable, Equatable {
    public var name: String
    public var publicKey: String
    public var payload: PublishedPayload?

    public init(name: String, publicKey: String, payload: PublishedPayload? = nil) {
        self.name = name
        self.publicKey = publicKey
        self.payload = payload
    }
}

/// A payload as the server offers it: stored under `payloads/<sha256Hex>/<fileName>` and described
/// in the encodings update_engine reads (payload doc §5.4).
public struct PublishedPayload: Codable, Sendable, Equatable {
    public var version: String
    public var fileName: String
    public var size: Int64
    public var sha1Base64: String
    public var sha256Base64: String
    public var sha256Hex: String
    public var publishedAt: Int64

    public init(version: String, fileName: String, size: Int64, sha1Base64: String, sha256Base64: String,
                sha256Hex: String, publishedAt: Int64) {
        self.version = version
        self.fileName = fileName
        self.size = size
        self.sha1Base64 = sha1Base64
        self.sha256Base64 = sha256Base64
        self.sha256Hex = sha256Hex
        self.publishedAt = publishedAt
    }

    /// Where the server serves it, relative to the server's root; stable for as long as the bytes are.
    public var directory: String { "payloads/\(sha256Hex)/" }
}

/// Nebraska's rollout policy: at most `maxUpdates` grants per `periodSeconds`, and at most
/// `maxUpdates` updates in progress that were granted within `updateTimeoutSeconds`. Without
/// `maxUpdates` every machine that asks is offered the update.
public struct RolloutPolicy: Codable, Sendable, Equatable {
    public var maxUpdates: Int64?
    public var periodSeconds: Int64
    public var updateTimeoutSeconds: Int64

    /// Nebraska's new-group defaults are 1 per hour with a 1-day timeout; a group made without a
    /// limit lets everyone update (its seeded groups), with Nebraska's 60-minute timeout.
    public static let unlimited = RolloutPolicy(maxUpdates: nil, periodSeconds: 3600, updateTimeoutSeconds: 3600)

    public init(maxUpdates: Int64?, periodSeconds: Int64, updateTimeoutSeconds: Int64) {
        self.maxUpdates = maxUpdates
        self.periodSeconds = periodSeconds
        self.updateTimeoutSeconds = updateTimeoutSeconds
    }
}

/// A group: machines whose `GROUP` is `name`, the channel they follow, and whether updates flow.
/// `haltedReason` is set by the server itself when a machine of the group reports a failed install
/// or a rollback, and stays until someone resumes the group.
public struct UpdateGroup: Codable, Sendable, Equatable {
    public var name: String
    public var channel: String
    public var policy: RolloutPolicy
    public var paused: Bool
    public var haltedReason: String?

    public init(name: String, channel: String, policy: RolloutPolicy = .unlimited, paused: Bool = false,
                haltedReason: String? = nil) {
        self.name = name
        self.channel = channel
        self.policy = policy
        self.paused = paused
        self.haltedReason = haltedReason
    }

    /// "active", "paused", or "halted: <why>".
    public var status: String {
        if let haltedReason { return "halted: \(haltedReason)" }
        return paused ? "paused" : "active"
    }

    public var offersUpdates: Bool { !paused && haltedReason == nil }

    private enum CodingKeys: String, CodingKey { case name, channel, policy, paused, haltedReason, status }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try container.decode(String.self, forKey: .name), channel: try container.decode(String.self, forKey: .channel),
                  policy: try container.decode(RolloutPolicy.self, forKey: .policy),
                  paused: try container.decode(Bool.self, forKey: .paused),
                  haltedReason: try container.decodeIfPresent(String.self, forKey: .haltedReason))
    }

    /// With `status` too, for people and scripts reading the JSON.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(channel, forKey: .channel)
        try container.encode(policy, forKey: .policy)
        try container.encode(paused, forKey: .paused)
        try container.encodeIfPresent(haltedReason, forKey: .haltedReason)
        try container.encode(status, forKey: .status)
    }
}

/// Nebraska's instance status codes (`internal/types/instance.go`), so their numbers mean the same
/// in the database; JSON carries the names.
public enum InstanceStatus: Int64, Codable, Sendable, CaseIterable {
    case undefined = 1, granted = 2, error = 3, complete = 4, installed = 5, downloaded = 6, downloading = 7, onHold = 8

    public var name: String {
        switch self {
        case .undefined: "undefined"
        case .granted: "update-granted"
        case .error: "error"
        case .complete: "complete"
        case .installed: "installed"
        case .downloaded: "downloaded"
        case .downloading: "downloading"
        case .onHold: "on-hold"
        }
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let status = Self.allCases.first(where: { $0.name == name }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "no instance status '\(name)'"))
        }
        self = status
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// A machine as the server last saw it.
public struct Instance: Codable, Sendable, Equatable {
    public var machineID: String
    public var group: String
    public var version: String
    public var board: String
    public var address: String
    public var status: InstanceStatus
    public var lastCheck: Int64
    /// The update granted last, while it is in progress: from the grant until the machine reports
    /// it complete or failed, or the group's update timeout passes.
    public var grantedVersion: String?
    public var grantedAt: Int64?
    public var updateInProgress: Bool
    /// The version it ran before its last completed update (event 3/2's `previousversion`).
    public var previousVersion: String?
    /// How many events it has reported; also the sequence number of its next one.
    public var eventCount: Int64

    public init(machineID: String, group: String, version: String, board: String, address: String,
                status: InstanceStatus = .undefined, lastCheck: Int64, grantedVersion: String? = nil,
                grantedAt: Int64? = nil, updateInProgress: Bool = false, previousVersion: String? = nil,
                eventCount: Int64 = 0) {
        self.machineID = machineID
        self.group = group
        self.version = version
        self.board = board
        self.address = address
        self.status = status
        self.lastCheck = lastCheck
        self.grantedVersion = grantedVersion
        self.grantedAt = grantedAt
        self.updateInProgress = updateInProgress
        self.previousVersion = previousVersion
        self.eventCount = eventCount
    }
}

/// One event a machine reported (payload doc §5.3), as stored.
public struct RecordedEvent: Codable, Sendable, Equatable {
    public var machineID: String
    public var sequence: Int64
    public var time: Int64
    public var type: Int
    public var result: Int
    public var errorCode: Int?
    public var version: String
    public var previousVersion: String?

    public init(machineID: String, sequence: Int64, time: Int64, type: Int, result: Int, errorCode: Int?,
                version: String, previousVersion: String?) {
        self.machineID = machineID
        self.sequence = sequence
        self.time = time
        self.type = type
        self.result = result
        self.errorCode = errorCode
        self.version = version
        self.previousVersion = previousVersion
    }
}
