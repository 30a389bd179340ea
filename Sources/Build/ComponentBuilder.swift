import Foundation
import Recipes
import Support

/// Builds one recipe's own tree (`$DESTDIR`): source builds run their script in a scratch
/// directory; every kind then installs its plain `files`. Debian packages are not built here
/// (DebianBootstrap installs them all in one transaction).
public struct ComponentBuilder: Sendable {
    public let recipe: Recipe
    public let dependencyKeys: [String]
    public let architecture: String
    /// Built by `buildSwiftProducts()`: product name → binary.
    public private(set) var swiftProducts: [String: URL] = [:]

    public init(recipe: Recipe, dependencyKeys: [String], architecture: String) {
        self.recipe = recipe
        self.dependencyKeys = dependencyKeys
        self.architecture = architecture
    }

    /// True when the recipe contributes files of its own to the image.
    public var producesTree: Bool { Self.producesTree(recipe) }

    /// Debian recipes only name packages; source builds and recipes with files make a tree.
    public static func producesTree(_ recipe: Recipe) -> Bool { recipe.kind == .source || !recipe.files.isEmpty }

    /// Everything that can change the tree: the recipe text, every file in its folder (names,
    /// modes, contents), the dependencies' keys and the target architecture.
    public func cacheKey() throws -> String {
        var key = ContentKey("component-v1")
        key.add("recipe", recipe.text)
        key.add("arch", architecture)
        for (index, dependency) in dependencyKeys.enumerated() { key.add("dep\(index)", dependency) }
        for product in recipe.swiftProducts {
            guard let binary = swiftProducts[product] else {
                throw SupportError("\(recipe.fileURL.path): Swift product '\(product)' has not been built")
            }
            key.add("swift-product:\(product)", try Digests.sha256(file: binary))
        }
        for (relative, url) in try filesInRecipeFolder() {
            var info = stat()
            lstat(url.path, &info)
            key.add("file:\(relative):\(info.st_mode & 0o777)", try Digests.sha256(file: url))
        }
        return key.value
    }

    /// Builds the recipe's `swift-products` from the package the recipes belong to. SwiftPM's own
    /// incremental build (in `.build/recipe-products`) makes this quick when nothing changed, and the
    /// binaries' digests, not their sources, key the component.
    public mutating func buildSwiftProducts() throws {
        guard !recipe.swiftProducts.isEmpty else { return }
        // The package next to `recipes/`; a tree that links Package.swift builds in the linked checkout.
        let manifest = recipe.fileURL.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Package.swift")
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            throw SupportError("\(recipe.fileURL.path): swift-products are built from coresdk's Swift package, but \(manifest.deletingLastPathComponent().path) has no Package.swift")
        }
        let packageRoot = manifest.resolvingSymlinksInPath().deletingLastPathComponent()
        let scratch = packageRoot.appendingPathComponent(".build/recipe-products")
        let common = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--package-path", packageRoot.path,
                      "--scratch-path", scratch.path, "-Xlinker", "--strip-all"]
        for product in recipe.swiftProducts {
            do {
                try Command.run(common + ["--product", product])
            } catch let failure as CommandFailure {
                throw SupportError("\(recipe.fileURL.path): swift build of product '\(product)' failed: exit status \(failure.status)\n\(failure.standardError)")
            }
            swiftProducts[product] = scratch.appendingPathComponent("release/\(product)")
        }
    }

    public func build(into destdir: URL, scratch: URL, clock: BuildClock) throws {
        try FileManager.default.createDirectory(at: destdir, withIntermediateDirectories: true)
        if recipe.kind == .source, let script = recipe.buildScript {
            for tool in recipe.buildTools where !Command.exists(tool) {
                throw SupportError("\(recipe.fileURL.path): recipe '\(recipe.name)' needs the host tool '\(tool)', which is not installed (run scripts/setup.sh)")
            }
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
