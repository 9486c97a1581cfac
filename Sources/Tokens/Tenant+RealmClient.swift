import Keycloak
import TenantRegistry

extension Tenant {
    /// The issuer of the tenant's realm (`keycloak.issuer`, or `<keycloak-url>/realms/<realm>`) and the tenant's
    /// client there: what tenant login, session ends and introspection of the realm's tokens use.
    package func realmClient(keycloakURL: String) -> (issuer: String, client: OIDCClientCredentials) {
        (keycloak.issuer ?? "\(keycloakURL)/realms/\(keycloak.realm)", OIDCClientCredentials(clientId: keycloak.clientId, clientSecret: keycloak.clientSecret))
    }
}
