import ArgumentParser
import Foundation
import ImageConfig
import Payload
import PayloadGeneration
import Support

struct PayloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payload",
        abstract: "Make, sign, check, serve and apply CoreOS-style (CrAU v1) update payloads.",
        subcommands: [PayloadGenerateCommand.self, PayloadHashCommand.self, PayloadInsertSignatureCommand.self,
                      PayloadVerifyCommand.self, PayloadOmahaCommand.self, PayloadApplyCommand.self])
}

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Signing keys for update payloads.", subcommands: [KeysGenerateCommand.self])
}

struct PayloadGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Make a full update payload of an image's /usr and boot files.",
        discussion: """
        Without --private-key the payload is made for --signatures offline signatures: print the \
        digest with `payload hash`, sign it elsewhere, add the results with `payload insert-signature`.
        """)

    @Option(help: "The new image (raw or qcow2), as built by `coresdk build image`.")
    var image: String

    @Option(name: .customLong("private-key"), help: "A 2048-bit RSA private key (PEM) to sign with; repeat for several (the last is the one clients check).")
    var privateKeys: [String] = []

    @Option(help: "How many signatures the payload will carry when signed offline.")
    var signatures: Int = 1

    @Option(help: "Where to write the payload.")
    var output: String

    @OptionGroup var format: OutputOptions

    struct Result: Encodable { let output: String, size: UInt64, partitionSize: UInt64, signed: Bool, digestToSign: String, seconds: Double }

    func run() throws {
        let keys = try privateKeys.map { try PayloadPrivateKey(contentsOf: URL(fileURLWithPath: $0)) }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-payload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let start = Date()
        let source = try UpdateSource.extract(from: URL(fileURLWithPath: image), into: scratch)
        let generator = PayloadGenerator(partitionImage: source.partition, bootFiles: source.bootFiles,
                                         signatureCount: keys.isEmpty ? signatures : keys.count)
        let result = try generator.write(to: URL(fileURLWithPath: output), signingKeys: keys)
        let report = Result(output: output, size: result.size, partitionSize: result.partitionSize, signed: result.signed,
                            digestToSign: Data(result.digestToSign).base64EncodedString(), seconds: Date().timeIntervalSince(start))
        try format.print(report, text: "\(output): \(result.size) bytes, "
            + (result.signed ? "signed" : "unsigned (digest to sign: \(report.digestToSign))"))
    }
}

struct PayloadHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the SHA-256 digest a signer must sign (base64), e.g. for an HSM or a signing server.",
        discussion: """
        Sign the raw 32 bytes (--output) with PKCS#1 v1.5 and SHA-256, for example \
        `openssl pkeyutl -sign -inkey key.pem -pkeyopt digest:sha256 -in update.hash -out update.sig`.
        """)

    @Argument(help: "The payload.") var payload: String
    @Option(help: "Also write the raw 32-byte digest to this file.") var output: String?
    @OptionGroup var format: OutputOptions

    struct Result: Encodable { let payload: String, digest: String, output: String? }

    func run() throws {
        let digest = Data(try PayloadVerifier(URL(fileURLWithPath: payload)).digestToSign())
        if let output { try AtomicFile.write(digest, to: URL(fileURLWithPath: output)) }
        try format.print(Result(payload: payload, digest: digest.base64EncodedString(), output: output),
                         text: digest.base64EncodedString())
    }
}

struct PayloadInsertSignatureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "insert-signature", abstract: "Add signatures made offline (raw 256-byte RSA signatures) to a payload.")

    @Argument(help: "The payload, changed in place.") var payload: String
    @Option(name: .customLong("signature"), help: "A signature file; repeat in key order (the last is the one clients check).")
    var signatures: [String] = []
    @Option(name: .customLong("public-key"), help: "Check that a signature verifies with this key before inserting.")
    var publicKeys: [String] = []
    @OptionGroup var format: OutputOptions

    struct Result: Encodable { let payload: String, signatures: Int }

    func validate() throws {
        guard !signatures.isEmpty else { throw ValidationError("give at least one --signature") }
    }

    func run() throws {
        let blobs = try signatures.map { file in
            guard let data = FileManager.default.contents(atPath: file) else {
                throw PayloadError(file: file, "cannot read the signature file")
            }
            return [UInt8](data)
        }
        let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
        try PayloadVerifier.insertSignatures(blobs, into: URL(fileURLWithPath: payload), publicKeys: keys)
        try format.print(Result(payload: payload, signatures: blobs.count), text: "\(payload): \(blobs.count) signature(s) inserted")
    }
}

struct PayloadVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a payload: header, manifest, blob order, operation hashes, rebuilt partition and kernel, signature.")

    @Argument(help: "The payload.") var payload: String
    @Option(name: .customLong("public-key"), help: "The public key clients have (PEM); repeat to check several signatures.")
    var publicKeys: [String] = []
    @OptionGroup var format: OutputOptions

    struct Result: Encodable { let payload: String, valid: Bool, size: UInt64, partitionSize: UInt64, operations: Int, procedures: [String], signatures: Int }

    func validate() throws {
        guard !publicKeys.isEmpty else { throw ValidationError("give the --public-key the payload must verify with") }
    }

    func run() throws {
        let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
        let report = try PayloadVerifier(URL(fileURLWithPath: payload)).verify(publicKeys: keys)
        let result = Result(payload: payload, valid: true, size: report.fileSize, partitionSize: report.partitionSize,
                            operations: report.operations, procedures: report.procedures, signatures: report.signatures)
        try format.print(result, text: "\(payload): valid, signed (\(report.operations) operations, \(report.signatures) signature(s))")
    }
}

struct PayloadOmahaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omaha", abstract: "Print the Omaha v3 update-check response an update server sends for a payload.")

    @Argument(help: "The payload.") var payload: String
    @Option(help: "Where clients download it from (the directory URL; the file name is appended).") var url: String
    @Option(help: "The version it installs (default: the payload's os-release VERSION_ID).") var version: String?
    @OptionGroup var format: OutputOptions

    func run() throws {
        let offer = try OmahaOffer(payload: URL(fileURLWithPath: payload), codebase: url, version: version)
        if format.json { try OutputOptions.printJSON(offer) } else { print(offer.responseXML, terminator: "") }
    }
}

struct PayloadApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Install a verified payload into an image's inactive USR slot and make it boot next (once, on trial).")

    @Argument(help: "A raw or qcow2 image.") var image: String
    @Argument(help: "The payload.") var payload: String
    @Option(name: .customLong("public-key"), help: "The key the payload must be signed with (PEM).") var publicKeys: [String] = []
    @OptionGroup var format: OutputOptions

    func run() throws {
        let keys = try publicKeys.map { try PayloadPublicKey(contentsOf: URL(fileURLWithPath: $0)) }
        let result = try ImageInstallTarget.apply(payload: URL(fileURLWithPath: payload), to: URL(fileURLWithPath: image), publicKeys: keys)
        try format.print(result, text: "\(image): \(result.version ?? "the update") installed in \(result.slot); it boots next (priority \(result.priority), 1 try)")
    }
}

struct KeysGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Make a 2048-bit RSA key pair for signing payloads.")

    @Option(name: .customLong("private-key"), help: "Where to write the private key (mode 0600).") var privateKey: String
    @Option(name: .customLong("public-key"), help: "Where to write the public key.") var publicKey: String
    @OptionGroup var format: OutputOptions

    struct Result: Encodable { let privateKey: String, publicKey: String }

    func run() throws {
        try PayloadPrivateKey.generate(privateKey: URL(fileURLWithPath: privateKey), publicKey: URL(fileURLWithPath: publicKey))
        try format.print(Result(privateKey: privateKey, publicKey: publicKey), text: "\(privateKey), \(publicKey)")
    }
}
