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

    /// What the tree is made of: the recipe text, every file in its folder (names, modes,
    /// contents) and the target architecture.
    func addInputs(to key: inout ContentKey) throws {
        key.add("recipe", recipe.text)
        key.add("arch", architecture)
        for (relative, url) in try filesInRecipeFolder() {
            var info = stat()
            lstat(url.path, &info)
            key.add("file:\(relative):\(info.st_mode & 0o777)", try Digests.sha256(file: url))
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
                throw SupportError("\(recipe.fileURL.path): build of '\(recipe.name)' failed: exit status \(failure.status)\n\(failure.standardError)")
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

    private func filesInRecipeFolder() throws -> [(String, URL)] {
        let base = recipe.directory
        guard let enumerator = FileManager.default.enumerator(atPath: base.path) else { return [] }
        var files: [(String, URL)] = []
        while let relative = enumerator.nextObject() as? String {
            let url = base.appendingPathComponent(relative)
            var info = stat()
            if lstat(url.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG { files.append((relative, url)) }
        }
        return files.sorted { $0.0 < $1.0 }
    }
}
