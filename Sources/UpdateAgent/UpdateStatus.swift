/// update_engine's states (spec update-agent.md §1.3), by the names D-Bus, `update_engine_client`
/// and locksmith use.
public enum UpdateStatus: Int, Sendable, CaseIterable {
    case idle, checkingForUpdate, updateAvailable, downloading, verifying, finalizing, updatedNeedReboot, reportingErrorEvent

    public var name: String {
        switch self {
        case .idle: "UPDATE_STATUS_IDLE"
        case .checkingForUpdate: "UPDATE_STATUS_CHECKING_FOR_UPDATE"
        case .updateAvailable: "UPDATE_STATUS_UPDATE_AVAILABLE"
        case .downloading: "UPDATE_STATUS_DOWNLOADING"
        case .verifying: "UPDATE_STATUS_VERIFYING"
        case .finalizing: "UPDATE_STATUS_FINALIZING"
        case .updatedNeedReboot: "UPDATE_STATUS_UPDATED_NEED_REBOOT"
        case .reportingErrorEvent: "UPDATE_STATUS_REPORTING_ERROR_EVENT"
        }
    }

    public init?(name: String) {
        guard let status = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = status
    }
}

/// `GetStatus`'s five fields and `update_engine_client -status`'s five lines (§2.2), which kola
/// and scripts parse as KEY=VALUE.
public struct StatusReport: Sendable, Equatable {
    /// Unix seconds of the last successful check; 0: never.
    public var lastCheckedTime: Int64
    /// 0 to 1.
    public var progress: Double
    public var status: UpdateStatus
    /// The version on offer; "0.0.0" when none.
    public var newVersion: String
    public var newSize: Int64

    public init(lastCheckedTime: Int64 = 0, progress: Double = 0, status: UpdateStatus = .idle,
                newVersion: String = "0.0.0", newSize: Int64 = 0) {
        self.lastCheckedTime = lastCheckedTime
        self.progress = progress
        self.status = status
        self.newVersion = newVersion
        self.newSize = newSize
    }

    /// The lines as the original prints them; PROGRESS with printf's %f (six decimals).
    public var lines: String {
        let millionths = Int((min(max(progress, 0), 1) * 1_000_000).rounded())
        let fraction = String(millionths % 1_000_000)
        return """
            LAST_CHECKED_TIME=\(lastCheckedTime)
            PROGRESS=\(millionths / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)
            CURRENT_OP=\(status.name)
            NEW_VERSION=\(newVersion)
            NEW_SIZE=\(newSize)

            """
    }

    /// Reads what `lines` writes; nil for anything else.
    public init?(lines text: String) {
        var fields: [Substring: Substring] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return nil }
            fields[line[..<equals]] = line[line.index(after: equals)...]
        }
        guard fields.count == 5, let checked = fields["LAST_CHECKED_TIME"].flatMap({ Int64($0) }),
              let progress = fields["PROGRESS"].flatMap({ Double($0) }),
              let status = fields["CURRENT_OP"].flatMap({ UpdateStatus(name: String($0)) }),
              let version = fields["NEW_VERSION"], let size = fields["NEW_SIZE"].flatMap({ Int64($0) }) else { return nil }
        self.init(lastCheckedTime: checked, progress: progress, status: status, newVersion: String(version), newSize: size)
    }
}
