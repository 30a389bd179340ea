import Foundation
import XCTest
@testable import Recipes

/// A throwaway source tree (recipes/, boards/, overlays/) with files written by the test.
final class RepositoryFixture {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-recipes-\(UUID().uuidString)")
        for folder in ["recipes", "boards", "overlays"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    var repository: RecipeRepository { RecipeRepository(root: root) }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent(path), withIntermediateDirectories: true)
    }

    func writeDebianRecipe(_ name: String, depends: [String] = []) throws {
        try write("recipes/\(name).yaml", """
            name: \(name)
            kind: debian
            depends: [\(depends.joined(separator: ", "))]
            packages: [\(name)-pkg]
            """)
    }

    /// The smallest board that loads; `extra` lines are appended at the top level.
    func writeBoard(_ name: String = "amd64-usr", recipes: [String] = ["linux-kernel"], extra: String = "") throws {
        try write("boards/\(name).yaml", """
            name: \(name)
            arch: amd64
            recipes: [\(recipes.joined(separator: ", "))]
            kernel: {recipe: linux-kernel}
            layout:
              partitions:
                - {number: 1, label: EFI-SYSTEM, type: efi, size: 128MiB}
            \(extra)
            """)
    }
}

/// A test with a fresh source tree; `fixture` is removed after each test.
class RepositoryTestCase: XCTestCase {
    var fixture: RepositoryFixture!

    override func setUpWithError() throws { fixture = try RepositoryFixture() }
    override func tearDown() { fixture = nil }
}

/// Asserts that `body` fails with a `ConfigError` at `location` (nil: none) whose message holds
/// every one of `words`, and that its description is what a user sees: `file:line:column: message`.
func XCTAssertConfigError<T>(_ body: @autoclosure () throws -> T, at location: String?, _ words: String...,
                             file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a ConfigError at \(location ?? "no location")", file: file, line: line)
    } catch let error as ConfigError {
        XCTAssertEqual(error.location?.description, location, "\(error)", file: file, line: line)
        for word in words {
            XCTAssertTrue(error.message.contains(word), "'\(error.message)' lacks '\(word)'", file: file, line: line)
        }
        XCTAssertEqual(error.description, location.map { "\($0): \(error.message)" } ?? error.message, file: file, line: line)
    } catch {
        XCTFail("expected a ConfigError, got \(error)", file: file, line: line)
    }
}
