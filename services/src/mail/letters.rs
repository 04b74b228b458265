//! What the instance writes: the subject and plain-text body of each kind of mail.
//! Plain text only: links stay visible and no remote content is loaded.

use validibot_store::accounts::Role;

/// A message's subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

/// An invitation into a workspace.
pub fn invitation(
    workspace: &str,
    inviter: Option<&str>,
    role: Role,
    link: &str,
    expires_at: i64,
) -> Letter {
    let who = inviter.unwrap_or("An administrator");
    Letter {
        subject: format!("You are invited to {workspace} on Validibot"),
        body: format!(
            "{who} invited you to the workspace \"{workspace}\" on Validibot, as {role}.\n\n\
             Accept the invitation here (the link works once, until {expires}):\n\n{link}\n\n\
             You will choose a username and password, or sign in to an account you already have.\n\
             If you did not expect this invitation, ignore this message.\n",
            role = role.as_str(),
            expires = validibot_types::clock::rfc3339(expires_at),
        ),
    }
}

/// A password-reset link for one account.
pub fn password_reset(username: &str, link: &str, minutes: i64) -> Letter {
    Letter {
        subject: "Reset your Validibot password".into(),
        body: format!(
            "Someone asked to reset the password of the Validibot account \"{username}\".\n\n\
             Choose a new password here (the link works once, within {minutes} minutes):\n\n{link}\n\n\
             Setting a new password signs the account out everywhere.\n\
             If you did not ask for this, ignore this message: the password stays as it is.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn letters_carry_their_link() {
        let l = super::invitation(
            "Energy",
            Some("ada"),
            super::Role::Author,
            "https://x/ui/invitations/vbi_1",
            0,
        );
        assert!(l.subject.contains("Energy"));
        assert!(l.body.contains("ada invited you") && l.body.contains("as author"));
        assert!(l.body.contains("\nhttps://x/ui/invitations/vbi_1\n"));
        let l = super::password_reset("ada", "https://x/ui/password-reset/vbr_1", 60);
        assert!(l.body.contains("\"ada\"") && l.body.contains("60 minutes"));
        assert!(l.body.contains("\nhttps://x/ui/password-reset/vbr_1\n"));
    }
}
