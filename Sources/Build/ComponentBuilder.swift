import Foundation
import Recipes
import Support

/// Builds one recipe's own tree (`$DESTDIR`): source builds run their script in a scratch
/// directory; every kind then installs its plain `files`. Debian packages are not built here
/// (DebianBootstrap installs them all in one transaction).
public struct ComponentBuilder: Sendable {
    public let recipe: Recipe
    public let architecture: String
    /// The recipe's `swift-products`, built before `build` runs: product name → binary.
    public var swiftProducts: [String: URL] = [:]

    public init(recipe: Recipe, architecture: String) {
        self.recipe = recipe
        self.architecture = architecture
    }

    /// True when the recipe contributes files of its own to the image.
    public var producesTree: Bool { Self.producesTree(recipe) }

    /// Debian recipes only name packages; source builds and recipes with files make a tree.
    public static func producesTree(_ recipe: Recipe) -> Bool { recipe.kind == .source || !recipe.files.isEmpty }

    /// What the tree is made of: the recipe text, every file in its folder and in its libraries'
    /// folders (names, modes, contents) and the target architecture.
    func addInputs(to key: inout ContentKey) throws {
        key.add("recipe", recipe.text)
        key.add("arch", architecture)
        let folders = [("file", recipe.directory)] + recipe.libraryDirectories.map { ("library:\($0.name)", $0.url) }
        for (kind, folder) in folders {
            // A recipe folder need not exist (a recipe without files has none).
            guard FileManager.default.fileExists(atPath: folder.path) else { continue }
            for file in try FileTree.entries(folder) where file.kind == .regular {
                key.add("\(kind):\(file.path):\(file.permissions & 0o777)", try Digests.sha256(file: file.url))
            }
        }
    }

    public func build(into destdir: URL, scratch: URL, clock: BuildClock) throws {
        try FileManager.default.createDirectory(at: destdir, withIntermediateDirectories: true)
        if recipe.kind == .source, let script = recipe.buildScript {
            let sourceDirectory = scratch.appendingPathComponent("src")
            try FileManager.default.createDirectory(at: sourceDirectory, withIntermediateDirectories: true)
            for source in recipe.sources {
                let from = recipe.directory.appendingPathComponent(source)
                try Command.run(["cp", "-a", from.path, sourceDirectory.path])
            }
            try copyLibraries(into: sourceDirectory)
            let productDirectory = scratch.appendingPathComponent("products")
            try FileManager.default.createDirectory(at: productDirectory, withIntermediateDirectories: true)
            for (name, binary) in swiftProducts {
                try FileManager.default.copyItem(at: binary, to: productDirectory.appendingPathComponent(name))
            }
            do {
                try Command.run(["sh", "-e", "-c", script],
                                environment: ["SRCDIR": sourceDirectory.path, "DESTDIR": destdir.path,
                                              "PRODUCTS": productDirectory.path,
                                              "SOURCE_DATE_EPOCH": String(clock.epoch),
                                              "LC_ALL": "C.UTF-8", "TZ": "UTC"],
                                workingDirectory: sourceDirectory)
            } catch let failure as CommandFailure {
                throw SupportError(file: recipe.fileURL.path, "build of '\(recipe.name)' failed: exit status \(failure.status)\n\(failure.standardError)")
            }
        }
        for file in recipe.files {
            let destination = destdir.appendingPathComponent(String(file.path.dropFirst()))
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: recipe.directory.appendingPathComponent(file.source),
                                             to: destination)
            chmod(destination.path, mode_t(file.mode ?? 0o644))
        }
    }

    /// `recipes/lib/<name>/` → `$SRCDIR/lib/<name>/`, where the build's Makefiles look (`../lib/<name>`).
    private func copyLibraries(into sourceDirectory: URL) throws {
        guard !recipe.libraries.isEmpty else { return }
        let libraries = sourceDirectory.appendingPathComponent("lib")
        try FileManager.default.createDirectory(at: libraries, withIntermediateDirectories: true)
        for (name, url) in recipe.libraryDirectories {
            guard !FileManager.default.fileExists(atPath: libraries.appendingPathComponent(name).path) else {
                throw SupportError(file: recipe.fileURL.path, "a source of '\(recipe.name)' is already at lib/\(name), "
                                   + "where the library '\(name)' goes; rename it")
            }
            try Command.run(["cp", "-a", url.path, libraries.path])
        }
    }
}
