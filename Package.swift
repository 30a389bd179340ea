// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "coresdk",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "coresdk", targets: ["coresdk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C libraries, each behind one Swift wrapper type.
        .systemLibrary(name: "CFdisk", path: "Sources/CFdisk", pkgConfig: "fdisk",
                       providers: [.apt(["libfdisk-dev"])]),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),

        // Domain modules.
        .target(name: "Support", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Recipes", dependencies: ["Support", "Yams"]),
        .target(name: "Disk", dependencies: ["Support", "CFdisk"]),
        .target(name: "Filesystems", dependencies: ["Support"]),
        .target(name: "Rootfs", dependencies: ["Support", "Recipes", "CArchive"]),
        .target(name: "Boot", dependencies: ["Support", "CArchive"]),
        .target(name: "Build", dependencies: ["Support", "Recipes", "Rootfs", "Filesystems", "Disk", "Boot"]),

        // The thin CLI.
        .executableTarget(name: "coresdk", dependencies: [
            "Build", "Boot", "Recipes", "Disk", "Support",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        .testTarget(name: "RecipesTests", dependencies: ["Recipes"]),
        .testTarget(name: "DiskTests", dependencies: ["Disk", "Support"]),
        .testTarget(name: "FilesystemsTests", dependencies: ["Filesystems", "Support"]),
        .testTarget(name: "RootfsTests", dependencies: ["Rootfs", "Support"]),
        .testTarget(name: "BootTests", dependencies: ["Boot", "Support"]),
        .testTarget(name: "BuildTests", dependencies: ["Build", "Recipes", "Support"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Disk", "Support"]),
    ]
)
