import Support

/// A place in a configuration file, as an editor takes it: `recipes/etcd.yaml:3:5`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The path as the user would type it: relative to the repository root.
    public let file: String
    /// 1-based.
    public let line: Int
    /// 1-based, counted in Unicode scalars (as libyaml counts).
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// A problem with a recipe, a board or an overlay, worded for the person who wrote the file.
public struct ConfigError: ReportableError, Sendable {
    /// nil when the problem is not in a file (e.g. a board name that has no file at all).
    public let location: SourceLocation?
    public let message: String

    public init(location: SourceLocation?, message: String) {
        self.location = location
        self.message = message
    }

    public var details: ErrorDetails {
        ErrorDetails(message: message, file: location?.file, line: location?.line, column: location?.column)
    }
}

/// A value and where it was written, for checks that happen after loading (a dependency that
/// does not exist, a cycle) and must still point at the line.
public struct Located<Value: Sendable>: Sendable {
    public let value: Value
    public let location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// Configuration decoded from a YAML mapping remembers where each of its keys was written.
public protocol LocatedConfiguration {
    /// Where the mapping starts.
    var location: SourceLocation { get }
    /// The location of each key's value that was written in the file (defaults are absent).
    var keyLocations: [String: SourceLocation] { get }
}

extension LocatedConfiguration {
    /// Where `key`'s value was written, or nil when the key was left to its default.
    public func location(ofKey key: String) -> SourceLocation? { keyLocations[key] }
}
