import Foundation
import Recipes
import Support

/// The in-image agents: executables of this Swift package that `swift-products` recipes install,
/// built statically against the Swift runtime. Keyed by the package's sources, so a warm build
/// does not run SwiftPM at all.
enum SwiftProducts {
    static let tools = ["swift", "objcopy"]

    /// The package next to `recipes/`; a tree that links Package.swift builds the linked checkout.
    static func packageRoot(of repository: URL) throws -> URL {
        let manifest = repository.appendingPathComponent("Package.swift")
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            throw SupportError("recipes with swift-products are built from coresdk's Swift package, but \(repository.path) has no Package.swift")
        }
        return manifest.resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Everything a product is compiled from: the manifest and every file under Sources/.
    static func sourceDigest(packageRoot: URL) throws -> String {
        var key = ContentKey("swift-package-sources")
        try key.add("Package.swift", fileAt: packageRoot.appendingPathComponent("Package.swift"))
        key.add("Sources", try TreeDigest.digest(of: packageRoot.appendingPathComponent("Sources")))
        return key.value
    }

    /// Builds `recipe`'s products with SwiftPM (incrementally, in `scratch`) and returns name →
    /// binary. The binaries are made independent of where they were built: no build ID, and no
    /// `.swift_modhash` section (a hash over the build's paths; nothing reads it at run time), so
    /// a root build and a user's build in another directory give the same bytes.
    static func build(for recipe: Recipe, packageRoot: URL, scratch: URL, into directory: URL) throws -> [String: URL] {
        let common = ["swift", "build", "-c", "release", "--static-swift-stdlib", "--package-path", packageRoot.path,
                      "--scratch-path", scratch.path, "-Xlinker", "--strip-all", "-Xlinker", "--build-id=none"]
        var binaries: [String: URL] = [:]
        for product in recipe.swiftProducts {
            do {
                try Command.run(common + ["--product", product])
                let binary = directory.appendingPathComponent(product)
                try Command.run(["objcopy", "--remove-section=.swift_modhash",
                                 scratch.appendingPathComponent("release/\(product)").path, binary.path])
                binaries[product] = binary
            } catch let failure as CommandFailure {
                throw SupportError(file: recipe.fileURL.path, "swift build of product '\(product)' failed: exit status \(failure.status)\n\(failure.standardError)")
            }
        }
        return binaries
    }
}
