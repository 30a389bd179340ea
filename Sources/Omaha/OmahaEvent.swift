/// An `<event>` in a request: what happened on the machine (payload doc §5.3).
public struct OmahaEvent: Sendable, Hashable {
    public var type: Int
    public var result: Int
    /// update_engine's ActionExitCode with flag bits OR-ed in; sent only when the result is not success.
    public var errorCode: Int?
    /// The version that ran before the last applied update; sent only with the update-check event.
    public var previousVersion: String?

    public init(type: Int, result: Int, errorCode: Int? = nil, previousVersion: String? = nil) {
        self.type = type
        self.result = result
        self.errorCode = errorCode
        self.previousVersion = previousVersion
    }

    /// `eventtype` values (flatcar/update_engine:src/update_engine/omaha_request_action.h).
    public enum EventType {
        public static let updateComplete = 3
        public static let downloadStarted = 13
        public static let downloadFinished = 14
    }

    /// `eventresult` values.
    public enum EventResult {
        public static let error = 0
        public static let success = 1
        public static let successReboot = 2
        public static let deferred = 9
    }

    /// ActionExitCode values and flags (flatcar/update_engine:src/update_engine/action_processor.h,
    /// update_attempter.cc GetErrorCodeFlags).
    public enum ErrorCode {
        /// The machine booted the old version again after an update.
        public static let rollback = 44
        public static let devModeFlag = 1 << 31
        public static let resumedFlag = 1 << 30
        public static let unofficialBuildFlag = 1 << 29
        /// Set whenever SERVER is not the production URL, so every self-hosted server sees it.
        public static let testServerFlag = 1 << 28
    }

    /// The exit code without update_engine's flag bits (update-agent.md §4.3 item 6). It holds for
    /// codes sent as negative numbers too: with bit 31 set, `%d` prints a negative 32-bit value,
    /// and the low 28 bits of its two's complement are the same.
    public var baseErrorCode: Int? { errorCode.map { $0 & 0x0FFF_FFFF } }

    public var isRollback: Bool {
        type == EventType.updateComplete && result == EventResult.error && baseErrorCode == ErrorCode.rollback
    }

    // The events update_engine sends (payload doc §5.3), for the in-image agent.

    /// Sent with every update check: 3/2 carrying the version before the last update ("" once reported).
    public static func updateCheck(previousVersion: String) -> OmahaEvent {
        OmahaEvent(type: EventType.updateComplete, result: EventResult.successReboot, previousVersion: previousVersion)
    }

    /// Sent with the update check instead, when the running version is the previous one.
    public static let rolledBack = OmahaEvent(type: EventType.updateComplete, result: EventResult.error,
                                              errorCode: ErrorCode.rollback)
    public static let downloadStarted = OmahaEvent(type: EventType.downloadStarted, result: EventResult.success)
    public static let downloadFinished = OmahaEvent(type: EventType.downloadFinished, result: EventResult.success)
    /// Post-install succeeded; the machine waits for a reboot.
    public static let installed = OmahaEvent(type: EventType.updateComplete, result: EventResult.success)

    /// A failed attempt: `result` is `EventResult.error`, or `.deferred` for policy and back-off codes.
    public static func failed(errorCode: Int, result: Int = EventResult.error) -> OmahaEvent {
        OmahaEvent(type: EventType.updateComplete, result: result, errorCode: errorCode)
    }
}

extension OmahaEvent {
    init(_ element: XMLElement, at path: String) throws(OmahaError) {
        self.init(type: try element.requiredInteger("eventtype", at: path),
                  result: try element.requiredInteger("eventresult", at: path),
                  errorCode: try element.integer("errorcode", at: path),
                  previousVersion: element[attribute: "previousversion"])
    }

    /// update_engine's attribute order: eventtype, eventresult, then errorcode or previousversion.
    var element: XMLElement {
        XMLElement("event", optional: [("eventtype", String(type)), ("eventresult", String(result)),
                                        ("errorcode", errorCode.map { String($0) }), ("previousversion", previousVersion)])
    }
}
