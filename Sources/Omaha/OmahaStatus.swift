/// The status strings of Omaha v3 replies (coreos/go-omaha:omaha/codes.go, Nebraska's additions from
/// flatcar/nebraska:backend/pkg/omaha/omaha.go; payload doc §5.4). `app@status` and
/// `updatecheck@status` draw on the same vocabulary.
public enum OmahaStatus {
    public static let ok = "ok"
    /// `updatecheck@status` when the client is up to date.
    public static let noUpdate = "noupdate"
    public static let restricted = "restricted"
    public static let unknownApplication = "error-unknownApplication"
    public static let invalidAppID = "error-invalidAppId"
    public static let invalidVersion = "error-invalidVersion"
    public static let osNotSupported = "error-osnotsupported"
    public static let unsupportedProtocol = "error-unsupportedProtocol"
    public static let hashError = "error-hash"
    public static let internalError = "error-internal"
    public static let noPackageFound = "error-noPackageFound"
    public static let updatesDisabled = "error-updatesDisabled"
    public static let maxConcurrentUpdatesLimitReached = "error-maxConcurrentUpdatesLimitReached"
}
