//! Who may call the S3 service: requests signed (SigV4 headers, presigned URLs,
//! aws-chunked streaming) with the box's key pair. s3s verifies the signature; this
//! tells it the one secret the box knows.

use esb_auth::BoxCredentials;
use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Error, S3ErrorCode, S3Result};

pub struct BoxAuth {
    credentials: BoxCredentials,
}

impl BoxAuth {
    pub fn new(credentials: BoxCredentials) -> Self {
        Self { credentials }
    }
}

#[async_trait::async_trait]
impl S3Auth for BoxAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if esb_auth::secret::constant_time_eq(
            access_key.as_bytes(),
            self.credentials.access_key_id.as_bytes(),
        ) {
            Ok(SecretKey::from(self.credentials.secret_access_key.as_str()))
        } else {
            Err(S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            ))
        }
    }
}
