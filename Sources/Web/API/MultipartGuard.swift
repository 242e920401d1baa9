import Core
import Foundation
import Ledger
import NIOCore
import Vapor

/// Reads every multipart body before the multipart parser does, and refuses the two shapes on
/// which that parser (MultipartKit) stops the whole process instead of throwing: an empty
/// boundary (a precondition) and a byte above 0x7F where it reads a part's header name (an index
/// past its 128-entry table). One such request, signed in or not (the console's CSRF check
/// parses form bodies before anything else), would otherwise end the server for everyone.
package struct MultipartGuard: AsyncMiddleware {

    package init() {
    }
    /// Room for the largest multipart body a route takes: a document and its form fields.
    package static let maxBytes = DocumentController.maxBytes + 64 * 1024
    /// An ERP export and its form fields, on the routes that take one.
    package static let maxImportBytes = ImportFile.maxBytes + 64 * 1024

    /// What a multipart body to `path` may hold.
    package static func limit(for path: String) -> Int {
        path.hasSuffix("/receivables/imports") ? maxImportBytes : maxBytes
    }

    package func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let type = req.headers.contentType, type.type == "multipart" else { return try await next.respond(to: req) }
        let boundary = type.parameters["boundary"] ?? ""
        let body = try await req.body.collect(max: Self.limit(for: req.url.path)).get() ?? ByteBuffer()
        guard !boundary.isEmpty, !Self.wouldTrap(Array(body.readableBytesView), boundary: Array(boundary.utf8)) else {
            throw LedgerError.invalid("body", "is not a multipart form: a part's header names must be ASCII tokens")
        }
        return try await next.respond(to: req)
    }

    /// Walks `body` as MultipartKit's parser does (preamble, headers, body, boundary) and says
    /// whether it would read a header-name byte above 0x7F. Anything else it would refuse with an
    /// error of its own is left to it.
    package static func wouldTrap(_ body: [UInt8], boundary: [UInt8]) -> Bool {
        let delimiter: [UInt8] = Array("\r\n--".utf8) + boundary
        let cr: UInt8 = 13, lf: UInt8 = 10, colon: UInt8 = 58, hyphen: UInt8 = 45
        var i = 0
        // Preamble: up to the first delimiter (its leading CRLF may be missing).
        var match = 0
        while match < delimiter.count {
            guard i < body.count else { return false }
            let byte = body[i]
            i += 1
            if match == 0, byte == delimiter[2] {
                match = 3
            } else if byte == delimiter[match] {
                match += 1
            } else if match > 0, byte == delimiter[0] {
                match = 1
            } else {
                match = 0
            }
        }
        var afterBoundary = false  // headers entered from a boundary: CR already read
        while true {
            // Headers: an optional CRLF, then `name: value` lines, then an empty line.
            if afterBoundary {
                guard i < body.count else { return false }
                guard body[i] == lf else { return false }
                i += 1
            } else {
                guard i + 1 < body.count else { return false }
                guard body[i] == cr, body[i + 1] == lf else { return false }
                i += 2
            }
            headers: while true {
                var nameLength = 0
                while true {
                    guard i < body.count else { return false }
                    let byte = body[i]
                    i += 1
                    if byte == colon && nameLength > 0 { break }
                    if byte == cr && nameLength == 0 {
                        guard i < body.count else { return false }
                        guard body[i] == lf else { return false }
                        i += 1
                        break headers
                    }
                    if byte > 0x7F { return true }
                    guard Self.isTokenByte(byte) else { return false }
                    nameLength += 1
                }
                // The value, to its CR LF.
                while i < body.count, body[i] != cr { i += 1 }
                guard i + 1 < body.count else { return false }
                guard body[i + 1] == lf else { return false }
                i += 2
            }
            // Body, up to the next delimiter.
            var found = false
            while i < body.count {
                if body[i] == delimiter[0], i + delimiter.count <= body.count, Array(body[i..<(i + delimiter.count)]) == delimiter {
                    i += delimiter.count
                    found = true
                    break
                }
                i += 1
            }
            guard found, i < body.count else { return false }
            let byte = body[i]
            i += 1
            if byte == hyphen { return false }  // the closing delimiter; the epilogue is ignored
            guard byte == cr else { return false }
            afterBoundary = true
        }
    }

    /// RFC 822 field-name bytes: printable ASCII other than the tspecials.
    package static func isTokenByte(_ byte: UInt8) -> Bool {
        guard byte > 32, byte < 127 else { return false }
        return !Array("()<>@,;:\\\"/[]?={} ".utf8).contains(byte)
    }
}
