import Omaha

private typealias EventType = OmahaEvent.EventType
private typealias EventResult = OmahaEvent.EventResult

/// One machine's request, in the server's terms: who it is, what it runs, and what it asks and reports.
public struct CheckIn: Sendable {
    public var machineID: String
    public var version: String
    public var group: String
    public var board: String
    public var address: String
    public var asksForUpdate: Bool
    public var reports: [OmahaEvent]

    public init(machineID: String, version: String, group: String, board: String, address: String,
                asksForUpdate: Bool, reports: [OmahaEvent]) {
        self.machineID = machineID
        self.version = version
        self.group = group
        self.board = board
        self.address = address
        self.asksForUpdate = asksForUpdate
        self.reports = reports
    }
}

/// What the rollout policy counts in a group, leaving out the machine that asks.
public struct RolloutCounts: Sendable, Equatable {
    /// Grants within the policy's period.
    public var grantsInPeriod: Int64
    /// Updates in progress that were granted within the update timeout.
    public var inProgress: Int64

    public init(grantsInPeriod: Int64, inProgress: Int64) {
        self.grantsInPeriod = grantsInPeriod
        self.inProgress = inProgress
    }
}

/// The answer to a machine's update check.
public enum UpdateAnswer: Sendable, Equatable {
    case notAsked
    case noUpdate
    case update(PublishedPayload)
    /// An Omaha updatecheck status other than ok/noupdate (update_engine logs error 34 and checks
    /// again at its normal interval).
    case refused(String)
}

/// What the server does about one check-in: the instance and events to store, the group to halt,
/// and the answer. Decided from a snapshot the store reads in one transaction, so the same rules
/// hold for the SQLite and the PostgreSQL store.
public struct UpdateDecision: Sendable, Equatable {
    public var instance: Instance
    public var events: [RecordedEvent]
    public var haltReason: String?
    public var answer: UpdateAnswer

    public static func decide(_ checkIn: CheckIn, existing: Instance?, group: UpdateGroup?, channel: Channel?,
                              counts: RolloutCounts, now: Int64) -> UpdateDecision {
        var instance = existing ?? Instance(machineID: checkIn.machineID, group: checkIn.group, version: checkIn.version,
                                            board: checkIn.board, address: checkIn.address, lastCheck: now)
        instance.group = checkIn.group
        instance.version = checkIn.version
        instance.board = checkIn.board
        instance.address = checkIn.address
        instance.lastCheck = now
        var decision = UpdateDecision(instance: instance, events: [], haltReason: nil, answer: .notAsked)
        if let timeout = group?.policy.updateTimeoutSeconds, decision.instance.updateInProgress,
           let grantedAt = decision.instance.grantedAt, now - grantedAt > timeout {
            // Nobody heard from this update within the timeout: it no longer counts as in progress.
            decision.instance.updateInProgress = false
        }
        for report in checkIn.reports { decision.record(report, now: now) }
        if checkIn.asksForUpdate {
            decision.answer = decision.answerUpdateCheck(group: group, channel: channel, counts: counts, now: now)
        }
        return decision
    }

    /// Events move an update in progress along (Nebraska's `events.go`); a failure or a rollback
    /// also halts the group, which Nebraska does not do.
    private mutating func record(_ report: OmahaEvent, now: Int64) {
        // Every update check carries 3/2 with an empty previousversion: "still here", not news.
        // Storing it would grow the table by every machine's every check (Nebraska's issue #1585).
        if report.type == EventType.updateComplete, report.result == EventResult.successReboot,
           report.previousVersion?.isEmpty ?? true {
            return
        }
        events.append(RecordedEvent(machineID: instance.machineID, sequence: instance.eventCount, time: now,
                                    type: report.type, result: report.result, errorCode: report.errorCode,
                                    version: instance.version, previousVersion: report.previousVersion))
        instance.eventCount += 1
        let code = report.baseErrorCode
        if report.isRollback {
            // Reported from the old version after the new one failed to boot: whatever the server
            // thinks is in progress, the update it granted did not work.
            let from = instance.grantedVersion ?? "a newer version"
            haltReason = "machine \(instance.machineID) rolled back from \(from) to \(instance.version) (error 44)"
            instance.status = .error
            instance.updateInProgress = false
            return
        }
        guard instance.updateInProgress else { return }
        switch (report.type, report.result) {
        case (EventType.downloadStarted, EventResult.success): instance.status = .downloading
        case (EventType.downloadFinished, EventResult.success): instance.status = .downloaded
        case (EventType.updateComplete, EventResult.success): instance.status = .installed
        case (EventType.updateComplete, EventResult.successReboot):
            guard let previous = report.previousVersion, !previous.isEmpty else { return }
            if previous == "0.0.0.0" {
                // update_engine's "no previous version": start over, as Nebraska does.
                instance.status = .undefined
                instance.updateInProgress = false
            } else if instance.version == instance.grantedVersion {
                instance.status = .complete
                instance.previousVersion = previous
                instance.updateInProgress = false
            }
        case (_, EventResult.error):
            instance.status = .error
            instance.updateInProgress = false
            let granted = instance.grantedVersion ?? "an update"
            haltReason = "machine \(instance.machineID) failed to install \(granted) (error \(code.map(String.init) ?? "without a code"))"
        default: break
        }
    }

    private mutating func answerUpdateCheck(group: UpdateGroup?, channel: Channel?, counts: RolloutCounts,
                                            now: Int64) -> UpdateAnswer {
        guard let group else { return .refused("error-unknownGroup") }
        guard let payload = channel?.payload else { return .noUpdate }
        let running = SemanticVersion.lenient(instance.version)
        if instance.updateInProgress, let granted = instance.grantedVersion {
            if running < SemanticVersion.lenient(granted) {
                // The same offer again (a restarted or resumed download needs the same bytes), as
                // long as the channel still holds it.
                return granted == payload.version && group.offersUpdates ? .update(payload) : .noUpdate
            }
            if instance.version == granted {
                instance.status = .complete
                instance.updateInProgress = false
            }
        }
        guard running < SemanticVersion.lenient(payload.version) else { return .noUpdate }
        guard group.offersUpdates && haltReason == nil else { return .noUpdate }
        if let limit = group.policy.maxUpdates, counts.grantsInPeriod >= limit || counts.inProgress >= limit {
            instance.status = .onHold
            return .noUpdate
        }
        instance.status = .granted
        instance.grantedVersion = payload.version
        instance.grantedAt = now
        instance.updateInProgress = true
        return .update(payload)
    }
}
