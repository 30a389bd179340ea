import Foundation

/// A scratch directory for one test, removed when the test lets go of it.
public final class Scratch {
    public let root = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-test-\(UUID().uuidString)")

    public init() throws { try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(at: root) }

    public func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    /// Writes `text` to `relative`, creating its parent directories.
    public func write(_ relative: String, _ text: String) throws {
        let url = path(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    /// The names in the scratch directory, sorted: what a failed step left behind.
    public func names() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
    }
}
