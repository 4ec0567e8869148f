# A complete agentctl config: a new VPC, the default agent image.
# Credentials are not here: export TF_VAR_client_id and TF_VAR_client_secret.
name             = "data-insights"
region           = "eu-west-1"
account_id       = "4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17"
agent_id         = "a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40"
matillion_region = "eu1"

desired_count = 2
agent_cpu     = 1024
agent_memory  = 4096

tags = {
  team = "data-platform"
}
