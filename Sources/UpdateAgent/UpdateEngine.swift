#if canImport(Glibc)
import Glibc
#endif
import HTTPFetch
import Omaha
import Payload
import Codecs
import Posix

/// update_engine's job (spec update-agent.md §1): ask the Omaha server, download the payload, check
/// it against the update key and install it into the other slot with the one `PayloadInstaller`,
/// reporting each step as an Omaha event. What happens after the reboot is decided at start: the
/// version this machine runs now against the one it ran when it installed (`previous-version`).
public final class UpdateEngine {
    /// Where the engine keeps what must survive a reboot, and what must not.
    public struct Paths: Sendable {
        /// `previous-version` and the downloaded payload.
        public var state = "/var/lib/update_engine"
        /// The status the client and locksmithd read, the attempt record, the pid.
        public var run = "/run/update_engine"
        public var publicKey = "/usr/share/update_engine/update-payload-key.pub.pem"
        public init() {}
    }

    /// Who this machine is to the server.
    public struct Identity: Sendable {
        public var machineID: String
        public var bootID: String
        public init(machineID: String, bootID: String) {
            self.machineID = machineID
            self.bootID = bootID
        }
    }

    /// The codes reported in event 3/0 (update_engine's ActionExitCode, payload doc §5.3).
    public enum Failure: Int, Sendable {
        case error = 1
        case transfer = 9
        case payloadHashMismatch = 10
        case payloadSizeMismatch = 11
        case payloadVerification = 12
        case write = 14
        case publicKey = 18
        case responseInvalid = 34
        /// 2000 + the HTTP status of a failed update check.
        public static let httpBase = 2000
    }

    public let paths: Paths
    public let identity: Identity
    private let os: String
    private let read: (String) -> String?
    private let fetcher: HTTPFetcher
    private let makeTarget: () throws -> any InstallTarget
    private let log: (String) -> Void
    /// The events the next update check carries: what the last boot tells the server (3/2 or 44).
    private var pendingEvents: [OmahaEvent] = []
    public private(set) var report = StatusReport()
    public private(set) var attempts = 0

    public init(os: String = "coreos", identity: Identity, paths: Paths = Paths(), fetcher: HTTPFetcher = HTTPFetcher(),
                read: @escaping (String) -> String? = { SystemFile.contents(of: $0).map { String(decoding: $0, as: UTF8.self) } },
                makeTarget: @escaping () throws -> any InstallTarget, log: @escaping (String) -> Void) {
        self.os = os
        self.identity = identity
        self.paths = paths
        self.fetcher = fetcher
        self.read = read
        self.makeTarget = makeTarget
        self.log = log
        mkdir(paths.state, 0o755)
        mkdir(paths.run, 0o755)
        let configuration = self.configuration
        if exists(completedMarker) {
            // The daemon restarted after installing, before the reboot: nothing more until then.
            report.status = .updatedNeedReboot
            report.newVersion = firstLine(completedMarker) ?? "0.0.0"
        } else if let previous = firstLine(previousVersionPath), !previous.isEmpty {
            if previous == configuration.version {
                log("running \(previous) again after an update to a newer version: the new one failed to boot (rollback)")
                pendingEvents = [.rolledBack]
            } else {
                log("updated from \(previous) to \(configuration.version)")
                pendingEvents = [.updateCheck(previousVersion: previous)]
            }
        }
        publish()
    }

    public var configuration: UpdateConfiguration { UpdateConfiguration.load(os: os, read: read) }

    private var previousVersionPath: String { paths.state + "/previous-version" }
    private var completedMarker: String { paths.run + "/autoupdate_completed" }
    private var download: String { paths.state + "/payload" }
    /// The offer the partial download belongs to: it is resumed only for the same payload hash.
    private var downloadOffer: String { paths.state + "/payload.sha256" }

    /// One update check and, if the server offers an update, the whole attempt. Returns what the
    /// check schedule needs to know.
    @discardableResult
    public func attempt(interactive: Bool = false) -> CheckSchedule.Outcome {
        let configuration = self.configuration
        configuration.warnings.forEach(log)
        guard let server = configuration.server, server != "disabled" else {
            log("no SERVER in /etc/\(os)/update.conf or /usr/share/\(os)/update.conf: not checking")
            return .answered(pollInterval: nil)
        }
        attempts += 1
        defer { recordAttempt() }
        if report.status == .updatedNeedReboot {
            // As update_engine: while a reboot is pending, only pings, never another install.
            _ = try? send(request(configuration, updateCheck: false, events: []), to: server)
            lastResult = (0, "an update is installed; waiting for the reboot")
            return .answered(pollInterval: nil)
        }
        // "Updated" is told once the new boot is judged good (the boot check marks its slot), not
        // before; until then the server is not asked, so it hears the new version and the event together.
        if pendingEvents.contains(where: { $0.result == OmahaEvent.EventResult.successReboot }) && !bootIsJudgedGood {
            log("waiting for the boot check to judge this boot before reporting the update")
            lastResult = (Failure.error.rawValue, "this boot is not judged good yet")
            return .answered(pollInterval: nil)
        }
        set(.checkingForUpdate)
        let response: OmahaResponse
        do {
            response = try send(request(configuration, updateCheck: true, events: pendingEvents,
                                        installSource: interactive ? OmahaRequest.InstallSource.onDemand : OmahaRequest.InstallSource.scheduler),
                                to: server)
        } catch let failure as CheckFailure {
            log("update check failed: \(failure.message)")
            set(.idle)
            lastResult = (failure.code, failure.message)
            return failure.serverBusy ? .serverBusy : .answered(pollInterval: nil)
        } catch {
            set(.idle)
            lastResult = (Failure.error.rawValue, "\(error)")
            return .answered(pollInterval: nil)
        }
        report.lastCheckedTime = Int64(time(nil))
        if !pendingEvents.isEmpty {
            // The server has them now; the next boot decides afresh.
            pendingEvents = []
            unlink(previousVersionPath)
        }
        guard let app = response.apps.first, let check = app.updateCheck else {
            return fail(.responseInvalid, "the response has no updatecheck for this app", configuration, server)
        }
        switch check {
        case .noUpdate:
            log("no update available")
            set(.idle)
            lastResult = (0, "no update available")
            return .answered(pollInterval: nil)
        case .error(let status):
            return fail(.responseInvalid, "the server answered the update check with status \(status)", configuration, server)
        case .update(let update):
            let outcome = install(update, configuration, server)
            return outcome ?? .answered(pollInterval: update.pollInterval)
        }
    }

    /// What `-reset_status` asks: forget a pending reboot (the new slot keeps its one try; the
    /// message says how to undo that).
    public func resetStatus() -> Bool {
        guard report.status == .idle || report.status == .updatedNeedReboot else { return false }
        unlink(completedMarker)
        report = StatusReport(lastCheckedTime: report.lastCheckedTime)
        publish()
        return true
    }

    // MARK: One attempt

    private var lastResult: (code: Int, message: String) = (0, "")

    private func install(_ update: OmahaUpdate, _ configuration: UpdateConfiguration, _ server: String) -> CheckSchedule.Outcome? {
        guard let codebase = update.codebases.first else { return fail(.responseInvalid, "the update has no codebase", configuration, server) }
        let url = codebase + update.package.name
        log("update to \(update.version) available: \(url) (\(update.package.size) bytes)")
        let target: any InstallTarget
        do {
            target = try makeTarget()
            try target.checkReady()
        } catch {
            // Not a failure of the update: the next check tries again.
            log("not installing now: \(error)")
            set(.idle)
            lastResult = (Failure.error.rawValue, "not installing now: \(error)")
            return .answered(pollInterval: update.pollInterval)
        }
        report.newVersion = update.version
        report.newSize = Int64(update.package.size)
        set(.updateAvailable)
        event(.downloadStarted, configuration, server)
        set(.downloading)
        if firstLine(downloadOffer) != update.sha256Base64 {
            unlink(download)
            try? SystemFile.replace(downloadOffer, with: Array((update.sha256Base64 + "\n").utf8))
        }
        do {
            try fetcher.download(url: url, to: download, expectedSize: update.package.size,
                                 retries: 20, retryDelay: scaled(20, configuration)) { [self] received in
                let progress = Double(received) / Double(max(update.package.size, 1))
                if progress - report.progress >= 0.01 { report.progress = progress; publish() }
            }
        } catch {
            return fail(.transfer, "downloading \(url): \(error)", configuration, server)
        }
        event(.downloadFinished, configuration, server)
        set(.verifying)
        let payload: PayloadFile
        do {
            payload = try PayloadFile(path: download)
            guard payload.fileSize == update.package.size else {
                return fail(.payloadSizeMismatch, "the payload is \(payload.fileSize) bytes, the server said \(update.package.size)", configuration, server)
            }
            guard Base64.encode(try payload.digest(ofFirst: payload.fileSize)) == update.sha256Base64 else {
                return fail(.payloadHashMismatch, "the payload's SHA-256 is not the one the server gave", configuration, server)
            }
        } catch {
            return fail(.payloadVerification, "\(error)", configuration, server)
        }
        // Fail closed: without the board's key nothing is installed.
        let key: PayloadPublicKey
        do { key = try PayloadPublicKey(path: paths.publicKey) } catch {
            return fail(.publicKey, "\(error); nothing is installed without the update key", configuration, server)
        }
        set(.finalizing)
        let installed: InstalledUpdate
        do {
            installed = try PayloadInstaller(payload: payload, publicKeys: [key]).install(into: target)
        } catch let error as PayloadError {
            return fail(.payloadVerification, "\(error)", configuration, server)
        } catch {
            return fail(.write, "installing: \(error)", configuration, server)
        }
        discardDownload()
        do {
            try SystemFile.replace(previousVersionPath, with: Array((configuration.version + "\n").utf8))
            try SystemFile.replace(completedMarker, with: Array((update.version + "\n").utf8))
        } catch {
            return fail(.write, "\(error)", configuration, server)
        }
        _ = try? SystemFile.replace("/run/reboot-required", with: [UInt8]())
        log("installed \(installed.version ?? update.version) into \(installed.slot.label) (priority \(installed.attributes.priority), tries \(installed.attributes.tries)); a reboot boots it")
        event(.installed, configuration, server)
        report.progress = 1
        set(.updatedNeedReboot)
        lastResult = (0, "updated to \(update.version); reboot to use it")
        return nil
    }

    private func fail(_ failure: Failure, _ message: String, _ configuration: UpdateConfiguration, _ server: String) -> CheckSchedule.Outcome {
        log("update failed (code \(failure.rawValue)): \(message)")
        set(.reportingErrorEvent)
        event(.failed(errorCode: failure.rawValue | OmahaEvent.ErrorCode.testServerFlag), configuration, server)
        // What was received of an interrupted transfer is kept for the next attempt to resume.
        if failure != .transfer { discardDownload() }
        report = StatusReport(lastCheckedTime: report.lastCheckedTime)
        publish()
        lastResult = (failure.rawValue, message)
        return .answered(pollInterval: nil)
    }

    // MARK: Omaha

    struct CheckFailure: Error {
        let code: Int
        let message: String
        let serverBusy: Bool
    }

    private func request(_ configuration: UpdateConfiguration, updateCheck: Bool, events: [OmahaEvent],
                         installSource: String = OmahaRequest.InstallSource.scheduler) -> OmahaRequest {
        OmahaRequest(version: "coresdk-update-engine", installSource: installSource,
                     os: .init(servicePack: "\(configuration.version)_x86_64"),
                     apps: [.init(appID: configuration.appID, version: configuration.version, track: configuration.group,
                                  bootID: "{\(identity.bootID)}", machineID: identity.machineID, board: configuration.board,
                                  ping: .init(isActive: true), updateCheck: updateCheck, events: events)])
    }

    private func send(_ request: OmahaRequest, to server: String) throws -> OmahaResponse {
        let response: HTTPResponse
        do {
            response = try fetcher.send(HTTPRequest(method: "POST", url: server, headers: [("Content-Type", "text/xml")],
                                                    body: Array(request.serialized().utf8)), maxBodySize: 1 << 20)
        } catch {
            throw CheckFailure(code: Failure.httpBase, message: "\(server): \(error)", serverBusy: false)
        }
        guard response.status == 200 else {
            throw CheckFailure(code: Failure.httpBase + min(response.status, 999), message: "\(server) answered HTTP \(response.status)",
                               serverBusy: response.status == 500 || response.status == 503)
        }
        do { return try OmahaResponse(parsing: response.body) } catch {
            throw CheckFailure(code: Failure.responseInvalid.rawValue, message: "\(server): \(error)", serverBusy: false)
        }
    }

    /// Events are best effort, as update_engine's: a lost one does not stop the update.
    private func event(_ event: OmahaEvent, _ configuration: UpdateConfiguration, _ server: String) {
        do { _ = try send(request(configuration, updateCheck: false, events: [event]), to: server) } catch {
            log("could not report event \(event.type)/\(event.result): \(error)")
        }
    }

    // MARK: Status

    private func set(_ status: UpdateStatus) {
        report.status = status
        publish()
    }

    /// The five lines, atomically, for `update_engine_client -status` and locksmithd.
    private func publish() {
        try? SystemFile.replace(paths.run + "/status", with: Array(report.lines.utf8))
    }

    private func recordAttempt() {
        let record = "ATTEMPT=\(attempts)\nRESULT=\(lastResult.code)\nMESSAGE=\(lastResult.message.filter { $0 != "\n" })\n"
        try? SystemFile.replace(paths.run + "/attempt", with: Array(record.utf8))
    }

    private func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    private func discardDownload() {
        unlink(download)
        unlink(downloadOffer)
    }

    private var bootIsJudgedGood: Bool { (try? makeTarget().checkReady()) != nil }

    /// The first line of one of the engine's own state files (not configuration: `read` is for that).
    private func firstLine(_ path: String) -> String? {
        SystemFile.contents(of: path).flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) }
    }

    private func scaled(_ seconds: Int, _ configuration: UpdateConfiguration) -> Int {
        max(0, Int((Double(seconds) / configuration.timeScale).rounded()))
    }
}
