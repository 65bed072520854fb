//! A service's `model:` (spec §7): the model it serves, for the model endpoints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};
use super::literal::literal;

literal!(
    /// `type: chat`, the only model type.
    ChatTag = "chat"
);
literal!(
    /// `format: openai`.
    OpenAiFormatTag = "openai"
);
literal!(
    /// `format: tgi`.
    TgiFormatTag = "tgi"
);

/// A chat model behind an OpenAI-compatible API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenAiChatModel {
    /// Always `chat`.
    #[serde(rename = "type")]
    pub kind: ChatTag,
    /// The model name.
    pub name: String,
    /// Always `openai`.
    pub format: OpenAiFormatTag,
    /// The API path prefix.
    pub prefix: String,
}

/// A chat model served by Text Generation Inference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TgiChatModel {
    /// Always `chat`.
    #[serde(rename = "type")]
    pub kind: ChatTag,
    /// The model name.
    pub name: String,
    /// Always `tgi`.
    pub format: TgiFormatTag,
    /// A chat template overriding the model's.
    pub chat_template: Option<String>,
    /// An end-of-sequence token overriding the model's.
    pub eos_token: Option<String>,
}

/// The model a service serves. A plain string is an OpenAI-format chat model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ServiceModel {
    /// `format: tgi`.
    Tgi(TgiChatModel),
    /// `format: openai`.
    OpenAi(OpenAiChatModel),
}

/// The API formats of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// OpenAI-compatible.
    Openai,
    /// Text Generation Inference.
    Tgi,
}

/// The object form of [`ServiceModel`]; which fields apply depends on `format`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceModelObject {
    #[serde(rename = "type", default)]
    _kind: ChatTag,
    name: String,
    format: ModelFormat,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    chat_template: Option<String>,
    #[serde(default)]
    eos_token: Option<String>,
}

fn openai_model(name: String, prefix: Option<String>) -> ServiceModel {
    ServiceModel::OpenAi(OpenAiChatModel {
        kind: ChatTag::Value,
        name,
        format: OpenAiFormatTag::Value,
        prefix: prefix.unwrap_or_else(|| "/v1".into()),
    })
}

impl ServiceModel {
    /// The model name.
    pub fn name(&self) -> &str {
        match self {
            Self::Tgi(model) => &model.name,
            Self::OpenAi(model) => &model.name,
        }
    }
}

impl Forms for ServiceModel {
    type Object = ServiceModelObject;
    const EXPECTING: &'static str = "a model name or {name, format: openai|tgi, ...}";

    fn from_object(object: ServiceModelObject) -> Result<Self, String> {
        match object.format {
            ModelFormat::Openai => {
                if object.chat_template.is_some() || object.eos_token.is_some() {
                    return Err(
                        "`chat_template` and `eos_token` apply to `format: tgi` only".into(),
                    );
                }
                Ok(openai_model(object.name, object.prefix))
            }
            ModelFormat::Tgi => {
                if object.prefix.is_some() {
                    return Err("`prefix` applies to `format: openai` only".into());
                }
                Ok(Self::Tgi(TgiChatModel {
                    kind: ChatTag::Value,
                    name: object.name,
                    format: TgiFormatTag::Value,
                    chat_template: object.chat_template,
                    eos_token: object.eos_token,
                }))
            }
        }
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        Ok(openai_model(value.to_owned(), None))
    }
}
impl_deserialize_forms!(ServiceModel);
impl_schema_forms!(ServiceModel, "ServiceModel", [{"type": "string"}]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_an_openai_chat_model() {
        let model: ServiceModel = serde_json::from_str("\"meta-llama/Llama-3.1-8B\"").unwrap();
        assert_eq!(
            serde_json::to_value(&model).unwrap(),
            serde_json::json!({"type": "chat", "name": "meta-llama/Llama-3.1-8B",
                               "format": "openai", "prefix": "/v1"})
        );
    }

    #[test]
    fn fields_follow_the_format() {
        let tgi: ServiceModel =
            serde_json::from_str(r#"{"name":"m","format":"tgi","eos_token":"</s>"}"#).unwrap();
        assert_eq!(tgi.name(), "m");
        assert!(
            serde_json::from_str::<ServiceModel>(r#"{"name":"m","format":"tgi","prefix":"/x"}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<ServiceModel>(r#"{"name":"m","format":"grpc"}"#).is_err());
    }
}
