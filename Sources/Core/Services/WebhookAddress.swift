import Foundation
import Ledger
#if canImport(Glibc)
import Glibc
#endif

/// Where a webhook may be sent: never to the platform itself, its network or the cloud's
/// metadata service (an SSRF check), run when an endpoint is registered and again before every
/// delivery, on every address its name resolves to.
package struct WebhookAddressPolicy: Sendable {
    /// Production: https only, and no loopback receiver.
    package var production: Bool
    /// Host names the platform answers on (its public name), refused as receivers.
    package var ownHosts: Set<String>

    package init(production: Bool, ownHosts: Set<String> = []) {
        self.production = production
        self.ownHosts = ownHosts
    }

    /// Why `url` may not receive webhooks, or nil when it may; `resolve` names a host's addresses.
    package func problem(_ url: String, resolve: (String) -> [String]? = WebhookAddressPolicy.resolve) -> String? {
        guard url.utf8.count <= 2_048 else { return "must be at most 2048 characters" }
        guard Limits.textProblem(url, maxLength: 2_048) == nil, !url.contains(" ") else { return "must be a URL without spaces or control characters" }
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), let host = parts.host?.lowercased(), !host.isEmpty else {
            return "must be an absolute URL, https://host/path"
        }
        guard scheme == "https" || (scheme == "http" && !production) else {
            return production ? "must be https" : "must be http or https"
        }
        guard parts.user == nil, parts.password == nil else { return "must not carry a user name or password; the secret signs each delivery" }
        guard parts.fragment == nil else { return "must not have a fragment" }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if ownHosts.contains(bare) { return "must not point at the platform itself" }
        let addresses: [String]
        if Self.isLiteral(bare) {
            addresses = [bare]
        } else {
            guard let found = resolve(bare), !found.isEmpty else { return "its host \(bare) does not resolve" }
            addresses = found
        }
        for address in addresses {
            if let why = Self.forbidden(address, allowLoopback: !production) { return "resolves to \(address), \(why)" }
            if Self.ownAddresses.contains(address) { return "resolves to \(address), an address of the platform itself" }
        }
        return nil
    }

    static func isLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Why an address may not receive webhooks: loopback (unless allowed), private, link-local
    /// (the cloud's metadata service at 169.254.169.254 among them), unspecified, multicast,
    /// shared (carrier-grade NAT) or reserved; an IPv6 address that carries an IPv4 one is judged by it.
    package static func forbidden(_ address: String, allowLoopback: Bool) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            return forbidden(v4: b, allowLoopback: allowLoopback)
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return "which is not an IP address" }
        let b = withUnsafeBytes(of: v6) { Array($0) }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return forbidden(v4: Array(b[12..<16]), allowLoopback: allowLoopback) }  // ::ffff:a.b.c.d
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B { return forbidden(v4: Array(b[12..<16]), allowLoopback: allowLoopback) }  // 64:ff9b::/96
        if b.allSatisfy({ $0 == 0 }) { return "the unspecified address" }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return allowLoopback ? nil : "a loopback address" }
        if b[0] == 0xFE && (b[1] & 0xC0) == 0x80 { return "a link-local address" }
        if (b[0] & 0xFE) == 0xFC { return "a private (unique local) address" }
        if b[0] == 0xFF { return "a multicast address" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return "a documentation address" }
        return nil
    }

    static func forbidden(v4 b: [UInt8], allowLoopback: Bool) -> String? {
        switch (b[0], b[1]) {
        case (127, _): return allowLoopback ? nil : "a loopback address"
        case (0, _): return "the unspecified network"
        case (10, _), (172, 16...31), (192, 168): return "a private address"
        case (169, 254): return "a link-local address (the cloud's metadata service lives there)"
        case (100, 64...127): return "a shared (carrier-grade NAT) address"
        case (192, 0) where b[2] == 0 || b[2] == 2: return "a reserved address"
        case (198, 18...19): return "a benchmarking address"
        case (198, 51) where b[2] == 100, (203, 0) where b[2] == 113: return "a documentation address"
        case (224...239, _): return "a multicast address"
        case (240...255, _): return "a reserved address"
        default: return nil
        }
    }

    /// The addresses the platform's own interfaces have (loopback aside, judged by itself).
    static let ownAddresses: Set<String> = {
        var found: Set<String> = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return found }
        defer { freeifaddrs(list) }
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            if let text = text(of: address) { found.insert(text) }
        }
        return found.filter { !$0.hasPrefix("127.") && $0 != "::1" }
    }()

    static func text(of address: UnsafePointer<sockaddr>) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            var a = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &a, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        case AF_INET6:
            var a = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        default: return nil
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every address `host` resolves to (the system's resolver), or nil when it does not.
    package static func resolve(_ host: String) -> [String]? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return nil }
        defer { freeaddrinfo(list) }
        var found: [String] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ai_next }
            if let address = entry.pointee.ai_addr, let text = text(of: address), !found.contains(text) { found.append(text) }
        }
        return found
    }
}
